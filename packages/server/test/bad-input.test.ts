import net from 'node:net';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/core/input.js';
import { ADMIN_KEY, closedAfterEach, createEndpoint, createTenant, publish, type TestHerald } from './helpers.js';

// Bad input on every surface and both stores: each case here answered 500 (or was accepted and
// then failed every attempt) before it was bounded at the edge. A refusal is a 4xx in the
// surface's error shape and writes nothing.

const { herald, receiver } = closedAfterEach();
const JWT_SECRET = 'jwt-secret-for-the-bad-input-test-0123456789';
type Surface = 'native' | 'lily' | 'screenshot';

const TABLES = ['tenants', 'api_keys', 'event_types', 'endpoints', 'events', 'deliveries', 'attempts', 'recoveries'];
const rowCounts = async (t: TestHerald) =>
  JSON.stringify((await sql.raw(`SELECT ${TABLES.map((n) => `(SELECT COUNT(*) FROM ${n}) AS ${n}`).join(', ')}`).execute(t.herald.store.db)).rows[0]);

async function setUp() {
  const t = await herald({ config: { jwtSecret: JWT_SECRET } });
  await createTenant(t);
  const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key as string;
  const r = await receiver();
  const ep = await createEndpoint(t, 'acme', { url: r.url });
  /** A request on one surface: raw text bodies are sent as they are (with `type`), anything else as JSON. */
  const send = async (surface: Surface, method: string, url: string, body?: unknown, type = 'application/json') => {
    const headers: Record<string, string> = surface === 'screenshot' ? { 'x-api-key': key } : { authorization: `Bearer ${surface === 'lily' ? key : ADMIN_KEY}` };
    if (body !== undefined) headers['content-type'] = type;
    const res = await t.herald.app.inject({ method: method as 'POST', url, headers, ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
  };
  const lilyHook = (await send('lily', 'POST', '/api/webhooks', { url: r.url, events: ['post.published'] })).body.id as string;
  const shotHook = (await send('screenshot', 'POST', '/api/v1/webhooks', { url: r.url, events: ['CREDITS_LOW'] })).body.id as string;
  return { t, r, key, ep, lilyHook, shotHook, send };
}

/** The surface's error body, with the field the refusal names. */
function expectRefusal(surface: Surface, res: { status: number; body: any }, status: number, label: string): { field?: string; message: string } {
  expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBe(status);
  if (surface === 'screenshot') {
    expect(typeof res.body.error, label).toBe('string');
    return { field: res.body.details?.field, message: res.body.message };
  }
  expect(typeof res.body.error.code, label).toBe('string');
  return { field: res.body.error.details?.[0]?.field, message: res.body.error.message };
}

const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('JSON nesting', () => {
  it(`refuses bodies nested more than ${MAX_JSON_DEPTH} levels, on every surface, before anything is written`, async () => {
    const { t, ep, lilyHook, shotHook, send } = await setUp();
    const endpoint = JSON.stringify((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body);
    const before = await rowCounts(t);
    // Data nested MAX_JSON_DEPTH deep makes a body one level deeper than the limit.
    for (const depth of [MAX_JSON_DEPTH, 3_000, 100_000]) {
      const cases: [Surface, string, string, string, string?][] = [
        ['native', 'POST', '/v1/tenants/acme/events', `{"type":"probe","data":${nested(depth)}}`],
        ['native', 'POST', '/v1/tenants/acme/events/batch', `{"events":[{"type":"probe","data":${nested(depth)}}]}`],
        ['native', 'POST', '/v1/tenants/acme/endpoints', `{"url":"https://hooks.example.com/","metadata":{"a":${nested(depth)}}}`],
        ['native', 'PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, `{"metadata":{"a":${nested(depth)}}}`],
        ['native', 'POST', '/v1/tenants/acme/event-types', `{"name":"deep","schema":{"default":${nested(depth)}}}`],
        ['lily', 'PUT', `/api/webhooks/${lilyHook}`, `{"events":${nested(depth)}}`, 'application/x-www-form-urlencoded'],
        ['lily', 'POST', '/api/webhooks', `{"url":"https://hooks.example.com/","events":${nested(depth)}}`],
        ['screenshot', 'PUT', `/api/v1/webhooks/${shotHook}`, `{"events":${nested(depth)}}`],
      ];
      for (const [surface, method, url, body, type] of cases) {
        const res = await send(surface, method, url, body, type);
        const label = `${surface} ${method} ${url} at depth ${depth}`;
        const refusal = expectRefusal(surface, res, 400, label);
        expect(refusal.message, label).toMatch(new RegExp(`more than ${MAX_JSON_DEPTH} levels`));
      }
    }
    expect(await rowCounts(t)).toBe(before);
    expect(JSON.stringify((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body)).toBe(endpoint);
    // The last level allowed (the body one level more than its data) is published and read back.
    const data = JSON.parse(nested(MAX_JSON_DEPTH - 1));
    const published = await publish(t, 'acme', { type: 'probe', data });
    expect((await t.call('GET', `/v1/tenants/acme/events/${published.id}`)).body.data).toEqual(data);
  });
});

describe('numbers, dates and NUL', () => {
  it('bounds Lily page numbers: a page beyond a 64-bit integer is a 400, not a 500', async () => {
    const { lilyHook, send } = await setUp();
    for (const page of ['99999999999999999999999', '18446744073709551616', '9007199254740993', '1000001', '1e400']) {
      expectRefusal('lily', await send('lily', 'GET', `/api/webhooks?page=${page}`), 400, page);
      expectRefusal('lily', await send('lily', 'GET', `/api/webhooks/${lilyHook}/deliveries?page=${page}&per_page=100`), 400, page);
    }
    const last = await send('lily', 'GET', '/api/webhooks?page=1000000&per_page=100');
    expect(last).toMatchObject({ status: 200, body: { webhooks: [], pagination: { page: 1_000_000, per_page: 100 } } });
  });

  it('refuses API-key expiries and time filters that are not real instants, and writes no key', async () => {
    const { t, send } = await setUp();
    const keys = async () => (await t.call('GET', '/v1/tenants/acme/api-keys')).body.data.length as number;
    const count = await keys();
    // A leap second passed the format check and became NaN: SQLite wrote the key with no expiry, and the caller got a 500.
    for (const expires of ['2026-06-30T23:59:60Z', '2026-02-30T00:00:00Z', '2030-01-01T25:00:00Z', '2027-02-29T00:00:00Z', '2030-01-01T00:00:00+24:00', '2030-01-01T00:00:00']) {
      const refusal = expectRefusal('native', await send('native', 'POST', '/v1/tenants/acme/api-keys', { name: 'k', expires_at: expires }), 400, expires);
      expect(refusal.field).toBe('expires_at');
    }
    expect(await keys()).toBe(count);
    const ok = await send('native', 'POST', '/v1/tenants/acme/api-keys', { expires_at: '2099-12-31T23:59:59.5+01:00' });
    expect(ok).toMatchObject({ status: 201, body: { expires_at: '2099-12-31T22:59:59.500Z' } });
    // 30 February was read as 2 March by the time filters.
    for (const q of ['after=2026-02-30T00:00:00Z', 'before=2026-06-30T23:59:60Z', 'after=yesterday']) {
      expectRefusal('native', await send('native', 'GET', `/v1/tenants/acme/events?${q}`), 400, q);
      expectRefusal('native', await send('native', 'GET', `/v1/tenants/acme/deliveries?${q}`), 400, q);
    }
    expect((await send('native', 'GET', '/v1/tenants/acme/events?after=2026-02-28')).status).toBe(200);
  });

  it('refuses NUL in names, descriptions, ids, cursors, filters and query strings, alike on both stores, writing nothing', async () => {
    const { t, r, ep, lilyHook, shotHook, send } = await setUp();
    const evt = await publish(t, 'acme', { type: 'probe', data: {} });
    const state = async () => JSON.stringify([
      (await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body, (await send('lily', 'GET', `/api/webhooks/${lilyHook}`)).body,
      (await send('screenshot', 'GET', `/api/v1/webhooks/${shotHook}`)).body,
    ]);
    const [before, stateBefore] = [await rowCounts(t), await state()];
    const cases: [Surface, string, string, unknown?][] = [
      ['native', 'POST', '/v1/tenants', { name: 'a\u0000b' }],
      ['native', 'POST', '/v1/tenants', { id: 'a\u0000', name: 'x' }],
      ['native', 'POST', '/v1/tenants/acme/api-keys', { name: 'k\u0000' }],
      ['native', 'POST', '/v1/tenants/acme/event-types', { name: 'probe', description: 'd\u0000' }],
      ['native', 'POST', '/v1/tenants/acme/endpoints', { url: r.url, description: 'd\u0000' }],
      ['native', 'POST', '/v1/tenants/acme/endpoints', { url: `${r.url}/a\u0000b` }],
      ['native', 'POST', '/v1/tenants/acme/endpoints', { url: r.url, event_types: ['a\u0000'] }],
      ['native', 'PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { description: '\u0000' }],
      ['native', 'POST', '/v1/tenants/acme/events', { type: 'probe', data: {}, idempotency_key: 'k\u0000' }],
      ['native', 'POST', `/v1/tenants/acme/events/${evt.id}/resend`, { endpoint_id: `${ep.id}\u0000` }],
      ['native', 'POST', `/v1/tenants/acme/endpoints/${ep.id}/test`, { event_type: 'a\u0000' }],
      ['native', 'GET', '/v1/tenants/ac%00me/endpoints'],
      ['native', 'GET', `/v1/tenants/acme/endpoints/${ep.id}%00`],
      ['native', 'DELETE', `/v1/tenants/acme/endpoints/${ep.id}%00`],
      ['native', 'GET', '/v1/tenants?cursor=a%00'],
      ['native', 'GET', '/v1/tenants/acme/endpoints?cursor=ep_%00'],
      ['native', 'GET', '/v1/tenants/acme/events?type=a%00b'],
      ['native', 'GET', '/v1/tenants/acme/deliveries?event_type=a%00b'],
      ['native', 'GET', `/v1/tenants/acme/deliveries?endpoint_id=${ep.id}%00`],
      ['native', 'GET', '/v1/tenants/acme/deliveries?cursor=%00'],
      ['lily', 'POST', '/api/webhooks', { url: r.url, events: ['post.published'], secret: 'secret\u0000secret' }],
      ['lily', 'PUT', `/api/webhooks/${lilyHook}`, { url: `${r.url}/\u0000` }],
      ['lily', 'GET', `/api/webhooks/${lilyHook}%00`],
      ['lily', 'POST', `/api/webhooks/${lilyHook}/test`, { event_type: 'post.published\u0000' }],
      ['screenshot', 'POST', '/api/v1/webhooks', { url: r.url, events: ['CREDITS_LOW'], description: 'd\u0000' }],
      ['screenshot', 'PUT', `/api/v1/webhooks/${shotHook}`, { description: '\u0000' }],
      ['screenshot', 'GET', `/api/v1/webhooks/${shotHook}%00`],
      ['screenshot', 'DELETE', `/api/v1/webhooks/${shotHook}%00`],
    ];
    for (const [surface, method, url, body] of cases) {
      const refusal = expectRefusal(surface, await send(surface, method, url, body), 400, `${surface} ${method} ${url} ${JSON.stringify(body)}`);
      expect(refusal.message).toMatch(/NUL/);
    }
    expect(await rowCounts(t)).toBe(before);
    expect(await state()).toBe(stateBefore);
    // Free-form JSON keeps it: it is stored as JSON text, where NUL is an escape.
    const kept = await publish(t, 'acme', { type: 'probe', data: { s: 'a\u0000b' } });
    expect((await t.call('GET', `/v1/tenants/acme/events/${kept.id}`)).body.data).toEqual({ s: 'a\u0000b' });
  });
});

describe('endpoint URLs and headers', () => {
  it('counts the 2048-character URL limit on the URL as sent, after percent-encoding, on every surface', async () => {
    const { t, r, lilyHook, shotHook, send } = await setUp();
    const https = r.url.replace('http:', 'https:');
    const long = `${https}/${'é'.repeat(400)}`; // 400-odd characters typed, 2,400-odd sent
    expect(new URL(long).href.length).toBeGreaterThan(2048);
    const before = await rowCounts(t);
    const cases: [Surface, string, string, unknown][] = [
      ['native', 'POST', '/v1/tenants/acme/endpoints', { url: long }],
      ['lily', 'POST', '/api/webhooks', { url: long, events: ['post.published'] }],
      ['lily', 'PUT', `/api/webhooks/${lilyHook}`, { url: long }],
      ['screenshot', 'POST', '/api/v1/webhooks', { url: long, events: ['CREDITS_LOW'] }],
      ['screenshot', 'PUT', `/api/v1/webhooks/${shotHook}`, { url: long }],
    ];
    for (const [surface, method, url, body] of cases) {
      const refusal = expectRefusal(surface, await send(surface, method, url, body), 400, `${surface} ${method} ${url}`);
      expect(refusal.field).toBe('url');
    }
    expect(await rowCounts(t)).toBe(before);
    const exact = `${r.url}/${'a'.repeat(2048 - r.url.length - 1)}`;
    expect(new URL(exact).href.length).toBe(2048);
    expect((await send('native', 'POST', '/v1/tenants/acme/endpoints', { url: exact })).status).toBe(201);
  });

  it('refuses custom headers with control characters or transport and signature names at creation and update, naming the header', async () => {
    const { t, r, ep, send } = await setUp();
    const lilyEp = await createEndpoint(t, 'acme', { url: r.url, profile: 'lily' });
    const shotEp = await createEndpoint(t, 'acme', { url: r.url, profile: 'screenshot' });
    const bad: Record<string, string>[] = [
      { 'X-Team': 'a\u0001b' }, { 'X-Team': 'a\u007fb' }, { 'X-Team': 'a\rb' }, { 'X-Team': 'a\nb' }, { 'X-Team': 'a\u0000b' }, { 'X-Team': 'café' },
      { Connection: 'close' }, { 'Keep-Alive': 'timeout=5' }, { 'Transfer-Encoding': 'chunked' }, { Upgrade: 'h2c' }, { TE: 'trailers' },
      { Trailer: 'x' }, { 'Proxy-Authorization': 'Basic x' }, { Host: 'evil.test' }, { 'Content-Length': '1' }, { Expect: '100-continue' },
      { 'webhook-signature': 'v1,x' }, { 'X-Team ': 'name with a space' },
    ];
    const before = await rowCounts(t);
    const endpoint = JSON.stringify((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body);
    for (const headers of bad) {
      const name = Object.keys(headers)[0]!;
      for (const res of [await send('native', 'POST', '/v1/tenants/acme/endpoints', { url: r.url, headers }), await send('native', 'PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { headers })]) {
        const refusal = expectRefusal('native', res, 400, JSON.stringify(headers));
        expect(refusal.field).toBe(`headers.${name}`);
        expect(refusal.message).toContain(name);
      }
    }
    // Each profile's own signature headers belong to it.
    for (const [id, name] of [[lilyEp.id, 'X-Lily-Signature'], [lilyEp.id, 'x-lily-retry-count'], [shotEp.id, 'X-Webhook-Signature-256'], [shotEp.id, 'User-Agent']] as const) {
      const refusal = expectRefusal('native', await send('native', 'PATCH', `/v1/tenants/acme/endpoints/${id}`, { headers: { [name]: 'x' } }), 400, name);
      expect(refusal.field).toBe(`headers.${name}`);
    }
    expect(await rowCounts(t)).toBe(before);
    expect(JSON.stringify((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body)).toBe(endpoint);
    // What is accepted is sent as given: visible ASCII, spaces and tabs.
    await send('native', 'PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { headers: { 'X-Team': 'a b\tc ~!' } });
    await publish(t, 'acme', { type: 'probe', data: {} });
    await t.herald.worker.runOnce();
    expect((await r.waitFor(1))[0]!.headers['x-team']).toBe('a b\tc ~!');
  });
});

describe('slow clients and unexpected errors', () => {
  it('answers 408 to a client trickling its body, within the request timeout, and writes nothing', async () => {
    const t = await herald({ config: { requestTimeoutMs: 1_000 } });
    await createTenant(t);
    const base = new URL(await t.herald.app.listen({ port: 0, host: '127.0.0.1' }));
    const before = await rowCounts(t);
    const socket = net.connect(Number(base.port), '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const started = Date.now();
    socket.write(`POST /v1/tenants/acme/events HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":"probe","data":"`);
    const trickle = setInterval(() => socket.write('a'), 100); // a byte every 100 ms: 1,000 bytes would take 100 s
    const giveUp = setTimeout(() => socket.destroy(), 6_000);
    await closed;
    clearInterval(trickle);
    clearTimeout(giveUp);
    const elapsed = Date.now() - started;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(4_000); // the timeout, plus at most a 1 s check interval, plus a busy machine
    expect(await rowCounts(t)).toBe(before);
    // A client that sends promptly is unaffected.
    const res = await fetch(`${base.origin}/v1/tenants/acme/events`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'probe', data: {} }),
    });
    expect(res.status).toBe(202);
  });

  it('answers an unexpected failure with a generic 500 in the surface’s shape, without internals', async () => {
    const { t, send } = await setUp();
    // A real store failure: the table is gone.
    await sql.raw('ALTER TABLE endpoints RENAME TO endpoints_moved_away').execute(t.herald.store.db);
    for (const [surface, url] of [['native', '/v1/tenants/acme/endpoints'], ['lily', '/api/webhooks'], ['screenshot', '/api/v1/webhooks']] as const) {
      const res = await send(surface, 'GET', url);
      expect(res.status).toBe(500);
      expect(res.body).toEqual(surface === 'screenshot' ? { error: 'INTERNAL', message: 'Internal error.' } : { error: { code: 'internal', message: 'Internal error.' } });
    }
    await sql.raw('ALTER TABLE endpoints_moved_away RENAME TO endpoints').execute(t.herald.store.db);
  });
});
