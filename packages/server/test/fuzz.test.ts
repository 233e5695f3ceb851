import fc from 'fast-check';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/core/input.js';
import { closedAfterEach, createEndpoint, createTenant, publish, type TestHerald } from './helpers.js';

// Fuzzed input on all three surfaces (native /v1, Lily, Screenshot), run on each store: bodies,
// query strings and path ids with deep nesting, NUL and other control characters, huge numbers,
// invalid dates and long unicode. The properties: never a 5xx; every refusal is a 4xx in the
// surface's own error shape; a refused request writes nothing (row counts of every table, and
// the resource a refused update names, are unchanged).

const { herald, receiver } = closedAfterEach();
const SEED = 20261129;
/** Runs per route: the whole file stays well under a minute per store on two busy cores. */
const RUNS = 25;
const JWT_SECRET = 'jwt-secret-for-the-fuzz-test-0123456789abcdef';

const TABLES = ['tenants', 'api_keys', 'event_types', 'endpoints', 'events', 'deliveries', 'attempts', 'recoveries'];
/** Row counts of every table, in one statement. */
const rowCounts = async (t: TestHerald) =>
  JSON.stringify((await sql.raw(`SELECT ${TABLES.map((n) => `(SELECT COUNT(*) FROM ${n}) AS ${n}`).join(', ')}`).execute(t.herald.store.db)).rows[0]);

// --- the nasty values ---------------------------------------------------------------------------
const nastyChar = fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\r', '\n', '\t', '\u2028', '\ud800', '\udfff', 'é', 'e\u0301', '😀', '\ufeff',
  '%00', '\\', '"', '{', '[', 'a', 'Z', '0', '-', '_', '.', '/', ' ');
const nastyString = fc.oneof(
  { arbitrary: fc.string({ unit: nastyChar, maxLength: 16 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 200, maxLength: 700 }), weight: 1 }, // long unicode
  { arbitrary: fc.string({ unit: 'binary', maxLength: 24 }), weight: 1 },
);
const hugeNumber = fc.constantFrom(2 ** 53 + 2, 1e21, 2 ** 64, -(2 ** 64), 1e308, -1e308, 0.5, -1, 0, Number.MAX_SAFE_INTEGER, 4294967296);
const badDate = fc.constantFrom('2026-02-30T00:00:00Z', '2026-06-30T23:59:60Z', '2030-01-01T25:00:00Z', '2026-01-01T00:00:00+24:00', '2026-13-01T00:00:00Z',
  '0000-00-00T00:00:00Z', '+275760-09-13T00:00:00Z', '2027-02-29T12:00:00Z', '2026-01-01t00:00:00z', '9999-12-31T23:59:59.9999999Z', 'yesterday', '');
/** Nested arrays and objects, built without recursion. */
const nest = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};
const deep = fc.integer({ min: 1, max: 2000 }).map((n) => nest(n));
const nasty = fc.oneof(nastyString, hugeNumber, badDate, deep, fc.anything({ maxDepth: 2 }));
/** Mostly a plausible value for the field, often a nasty one. */
const mix = (valid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: nasty, weight: 2 });
const fieldsOf = (fields: Record<string, fc.Arbitrary<unknown>>, required: string[] = []) =>
  fc.oneof(
    { arbitrary: fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, mix(v)])), { requiredKeys: required }), weight: 9 },
    { arbitrary: nasty, weight: 1 },
  );

/** Nesting depth of a JSON value ({} is 1), without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Each surface's error body: native and Lily `{error: {code, message}}`, Screenshot `{error: "CODE", message}`. */
function expectErrorShape(surface: Surface, body: any, label: string): void {
  if (surface === 'screenshot') {
    expect(typeof body?.error, label).toBe('string');
    expect(typeof body?.message, label).toBe('string');
  } else {
    expect(typeof body?.error?.code, label).toBe('string');
    expect(typeof body?.error?.message, label).toBe('string');
  }
}

type Surface = 'native' | 'lily' | 'screenshot';
interface Sent { status: number; body: any }

async function setUp() {
  const t = await herald({ config: { jwtSecret: JWT_SECRET } });
  await createTenant(t);
  const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key as string;
  const r = await receiver();
  const ep = await createEndpoint(t, 'acme', { url: r.url });
  await t.call('POST', '/v1/tenants/acme/event-types', { name: 'probe' });
  const evt = await publish(t, 'acme', { type: 'probe', data: { n: 1 } });
  await t.herald.worker.runOnce();
  const lilyHook = (await t.call('POST', '/api/webhooks', { url: r.url, events: ['post.published'] }, key)).body.id as string;
  const send = async (surface: Surface, method: string, url: string, body?: unknown, raw?: { payload: string; type: string }): Promise<Sent> => {
    const headers: Record<string, string> = surface === 'screenshot' ? { 'x-api-key': key } : { authorization: `Bearer ${surface === 'lily' ? key : 'test-admin-key-0123456789'}` };
    if (raw) headers['content-type'] = raw.type;
    const payload = raw ? { payload: raw.payload } : body === undefined ? {} : { payload: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } };
    const res = await t.herald.app.inject({ method: method as 'POST', url, headers, ...payload });
    let parsed: unknown = null;
    try {
      parsed = res.body ? JSON.parse(res.body) : null;
    } catch {
      parsed = res.body;
    }
    return { status: res.statusCode, body: parsed };
  };
  const shotHook = (await send('screenshot', 'POST', '/api/v1/webhooks', { url: r.url, events: ['CREDITS_LOW'] })).body.id as string;
  const [delivery] = (await t.call('GET', '/v1/tenants/acme/deliveries')).body.data;
  return { t, r, key, ep, evt, lilyHook, shotHook, delivery, send };
}

interface Case { surface: Surface; method: string; url: string; arb: fc.Arbitrary<unknown>; read?: () => Promise<unknown> }

/** The property for one request: no 5xx, refusals in the surface's shape, and a refusal writes nothing. */
async function check(t: TestHerald, c: Case, send: () => Promise<Sent>, label: string, bodyDepth = 0): Promise<number> {
  const [before, state] = [await rowCounts(t), await c.read?.()];
  const res = await send();
  expect(res.status, `${label} → ${JSON.stringify(res.body)?.slice(0, 300)}`).toBeLessThan(500);
  if (bodyDepth > MAX_JSON_DEPTH) expect(res.status, label).toBe(400);
  if (res.status < 400) return res.status;
  expectErrorShape(c.surface, res.body, label);
  expect(await rowCounts(t), label).toBe(before);
  if (c.read) expect(JSON.stringify(await c.read()), label).toBe(JSON.stringify(state));
  return res.status;
}

describe('fuzzed input on every surface', () => {
  it('bodies: never a 5xx, refusals in the surface’s shape, a refused request writes nothing', async () => {
    const { t, r, ep, evt, lilyHook, shotHook, send } = await setUp();
    const url = fc.oneof({ arbitrary: fc.constant(r.url), weight: 4 }, { arbitrary: fc.webUrl(), weight: 1 }, { arbitrary: fc.constant(`${r.url}/${'é'.repeat(400)}`), weight: 1 });
    const headers = fc.dictionary(fc.oneof(fc.constantFrom('x-team', 'connection', 'te', 'proxy-authorization', 'webhook-signature', 'Host', 'expect'), nastyString),
      fc.oneof(fc.stringMatching(/^[a-z0-9-]{0,12}$/), nastyString), { maxKeys: 3 });
    const small = (min: number, max: number) => fc.option(fc.integer({ min, max }), { nil: null });
    const validDate = fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
    const nativeFields = {
      url, description: fc.option(fc.string({ maxLength: 40 })), event_types: fc.option(fc.array(fc.constantFrom('a.b', 'probe', ''), { maxLength: 3 })),
      headers, rate_limit: small(1, 100), max_in_flight: small(1, 100), timeout_ms: small(100, 30_000), metadata: fc.object({ maxDepth: 2 }),
      status: fc.constantFrom('enabled', 'disabled'), fifo: fc.boolean(),
    };
    const event = { type: fc.constantFrom('a.b', 'probe', 'probe', '', 'x'.repeat(300)), data: fc.oneof(fc.object({ maxDepth: 2 }), fc.jsonValue(), deep), idempotency_key: fc.option(fc.string({ maxLength: 20 })) };
    const lilyEvents = fc.array(fc.constantFrom('post.published', 'post.failed', 'post.exploded'), { maxLength: 3 });
    const shotEvents = fc.array(fc.constantFrom('CREDITS_LOW', 'SCREENSHOT_COMPLETED', 'NOPE'), { maxLength: 3 });
    const native = (path: string) => `/v1/tenants/acme${path}`;
    const endpointState = async () => (await t.call('GET', native(`/endpoints/${ep.id}`))).body;
    const cases: Case[] = [
      { surface: 'native', method: 'POST', url: '/v1/tenants', arb: fieldsOf({ id: fc.stringMatching(/^[a-z0-9_-]{1,20}$/), name: fc.string({ minLength: 1, maxLength: 30 }) }, ['name']) },
      { surface: 'native', method: 'POST', url: native('/api-keys'), arb: fieldsOf({ name: fc.string({ maxLength: 30 }), expires_at: fc.oneof(validDate, badDate, fc.constant(null)) }) },
      { surface: 'native', method: 'POST', url: native('/event-types'), arb: fieldsOf({ name: fc.stringMatching(/^[a-z.]{1,12}$/), description: fc.option(fc.string()), schema: fc.option(fc.constant({ type: 'object' })) }, ['name']) },
      { surface: 'native', method: 'POST', url: native('/endpoints'), arb: fieldsOf({ ...nativeFields, profile: fc.constantFrom('standard', 'lily', 'screenshot', 'svix') }, ['url']) },
      { surface: 'native', method: 'PATCH', url: native(`/endpoints/${ep.id}`), arb: fieldsOf(nativeFields), read: endpointState },
      { surface: 'native', method: 'POST', url: native('/events'), arb: fieldsOf(event, ['type', 'data']) },
      { surface: 'native', method: 'POST', url: native('/events/batch'), arb: fc.record({ events: fc.array(fieldsOf(event, ['type', 'data']), { maxLength: 4 }) }) },
      { surface: 'native', method: 'POST', url: native(`/endpoints/${ep.id}/recover`), arb: fieldsOf({ since: fc.oneof(validDate, badDate) }, ['since']) },
      { surface: 'native', method: 'POST', url: native(`/endpoints/${ep.id}/secret/rotate`), arb: fieldsOf({ key: fc.constantFrom(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, 'whsec_short') }), read: endpointState },
      { surface: 'native', method: 'POST', url: native(`/endpoints/${ep.id}/test`), arb: fieldsOf({ event_type: fc.constantFrom('probe', 'webhook.test') }) },
      { surface: 'native', method: 'POST', url: native(`/events/${evt.id}/resend`), arb: fieldsOf({ endpoint_id: fc.constant(ep.id) }, ['endpoint_id']) },
      { surface: 'lily', method: 'POST', url: '/api/webhooks', arb: fieldsOf({ url, events: lilyEvents, secret: fc.string({ minLength: 8, maxLength: 40 }) }, ['url', 'events']) },
      { surface: 'lily', method: 'PUT', url: `/api/webhooks/${lilyHook}`, arb: fieldsOf({ url, events: lilyEvents, status: fc.constantFrom('active', 'paused') }), read: async () => (await send('lily', 'GET', `/api/webhooks/${lilyHook}`)).body },
      { surface: 'lily', method: 'POST', url: `/api/webhooks/${lilyHook}/test`, arb: fieldsOf({ event_type: fc.constantFrom('post.published', 'nope') }) },
      { surface: 'screenshot', method: 'POST', url: '/api/v1/webhooks', arb: fieldsOf({ url, events: shotEvents, description: fc.string({ maxLength: 40 }) }, ['url', 'events']) },
      { surface: 'screenshot', method: 'PUT', url: `/api/v1/webhooks/${shotHook}`, arb: fieldsOf({ url, events: shotEvents, description: fc.string({ maxLength: 40 }), isActive: fc.boolean() }), read: async () => (await send('screenshot', 'GET', `/api/v1/webhooks/${shotHook}`)).body },
    ];
    for (const c of cases) {
      await fc.assert(fc.asyncProperty(c.arb, async (body) => {
        const depth = depthOf(body);
        await check(t, c, () => send(c.surface, c.method, c.url, body), `${c.surface} ${c.method} ${c.url}: ${JSON.stringify(body)?.slice(0, 200)}`, depth);
      }), { numRuns: RUNS, seed: SEED });
    }

    // Raw text: nesting far past what JSON.stringify can build, broken JSON, and the Lily guide's
    // form-labelled JSON (curl -d without a Content-Type).
    const rawBody = fc.oneof(
      fc.integer({ min: MAX_JSON_DEPTH - 2, max: 30_000 }).map((n) => ({ text: `{"type":"probe","data":${'['.repeat(n)}${']'.repeat(n)}}`, depth: n + 1 })),
      fc.integer({ min: 1, max: 30_000 }).map((n) => ({ text: `{"type":"probe","data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`, depth: n + 1 })),
      fc.integer({ min: 1, max: 5_000 }).map((n) => ({ text: '['.repeat(n), depth: 0 })),
      nastyString.map((s) => ({ text: s, depth: 0 })),
    );
    const rawCases: [Case, string][] = [
      [{ surface: 'native', method: 'POST', url: native('/events'), arb: rawBody }, 'application/json'],
      [{ surface: 'lily', method: 'PUT', url: `/api/webhooks/${lilyHook}`, arb: rawBody }, 'application/x-www-form-urlencoded'],
      [{ surface: 'lily', method: 'POST', url: '/api/webhooks', arb: rawBody }, 'application/json'],
      [{ surface: 'screenshot', method: 'POST', url: '/api/v1/webhooks', arb: rawBody }, 'application/json'],
    ];
    for (const [c, type] of rawCases) {
      await fc.assert(fc.asyncProperty(rawBody, async ({ text, depth }) => {
        await check(t, c, () => send(c.surface, c.method, c.url, undefined, { payload: text, type }), `${c.surface} ${c.url} raw ${text.slice(0, 80)}`, depth);
      }), { numRuns: RUNS, seed: SEED });
    }
  }, 120_000);

  it('query strings and path ids: never a 5xx, refusals in the surface’s shape, and nothing written', async () => {
    const { t, ep, evt, lilyHook, shotHook, delivery, send } = await setUp();
    /** Percent-encodes every byte, so any string (lone surrogates included) or raw bytes (invalid UTF-8) can be sent. */
    const enc = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const text = fc.oneof(
      { arbitrary: nastyString.map((s) => enc(Buffer.from(s, 'utf8'))), weight: 4 },
      { arbitrary: fc.uint8Array({ maxLength: 12 }).map(enc), weight: 1 },
      { arbitrary: fc.constantFrom('99999999999999999999999', '1e400', '-1', '0', '-0', '0x10', 'NaN', 'Infinity', '2.5', '18446744073709551616'), weight: 2 },
      { arbitrary: badDate.map((d) => encodeURIComponent(d)), weight: 2 },
    );
    const id = (real: string) => fc.oneof({ arbitrary: fc.constant(real), weight: 1 }, { arbitrary: text, weight: 3 });
    const query = (keys: string[]) => fc.array(fc.tuple(fc.constantFrom(...keys, 'x', '__proto__'), text), { maxLength: 4 })
      .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));
    const page = ['cursor', 'limit'];
    type Route = { surface: Surface; method: string; url: fc.Arbitrary<string>; writes?: boolean };
    const get = (surface: Surface, url: fc.Arbitrary<string>): Route => ({ surface, method: 'GET', url });
    const tpl = (parts: TemplateStringsArray, ...arbs: fc.Arbitrary<string>[]) => fc.tuple(...arbs).map((vals) => parts.reduce((s, p, i) => s + p + (vals[i] ?? ''), ''));
    const tid = id('acme');
    const routes: Route[] = [
      get('native', tpl`/v1/tenants${query(page)}`),
      get('native', tpl`/v1/tenants/${tid}`),
      get('native', tpl`/v1/tenants/${tid}/endpoints${query(page)}`),
      get('native', tpl`/v1/tenants/${tid}/endpoints/${id(ep.id)}`),
      get('native', tpl`/v1/tenants/${tid}/endpoints/${id(ep.id)}/recoveries`),
      get('native', tpl`/v1/tenants/${tid}/recoveries/${id('rcv_x')}`),
      get('native', tpl`/v1/tenants/${tid}/events${query([...page, 'type', 'after', 'before'])}`),
      get('native', tpl`/v1/tenants/${tid}/events/${id(evt.id)}`),
      get('native', tpl`/v1/tenants/${tid}/deliveries${query([...page, 'endpoint_id', 'event_id', 'event_type', 'status', 'after', 'before'])}`),
      get('native', tpl`/v1/tenants/${tid}/deliveries/${id(delivery.id)}`),
      get('native', tpl`/v1/tenants/${tid}/api-keys`),
      get('native', tpl`/v1/tenants/${tid}/event-types`),
      get('lily', tpl`/api/webhooks${query(['page', 'per_page'])}`),
      get('lily', tpl`/api/webhooks/${id(lilyHook)}`),
      get('lily', tpl`/api/webhooks/${id(lilyHook)}/status`),
      get('lily', tpl`/api/webhooks/${id(lilyHook)}/deliveries${query(['page', 'per_page'])}`),
      get('screenshot', tpl`/api/v1/webhooks/deliveries${query(['limit'])}`),
      get('screenshot', tpl`/api/v1/webhooks/${id(shotHook)}`),
      get('screenshot', tpl`/api/v1/webhooks/${id(shotHook)}/deliveries${query(['limit'])}`),
      get('screenshot', tpl`/api/v1/webhooks/${id(shotHook)}/stats${query(['days'])}`),
      // Changes with an id that names nothing: always refused, never written.
      { surface: 'native', method: 'PATCH', url: tpl`/v1/tenants/acme/endpoints/${text}`, writes: true },
      { surface: 'native', method: 'DELETE', url: tpl`/v1/tenants/acme/endpoints/${text}`, writes: true },
      { surface: 'native', method: 'POST', url: tpl`/v1/tenants/acme/endpoints/${text}/test`, writes: true },
      { surface: 'native', method: 'POST', url: tpl`/v1/tenants/acme/deliveries/${text}/retry`, writes: true },
      { surface: 'native', method: 'DELETE', url: tpl`/v1/tenants/acme/api-keys/${text}`, writes: true },
      { surface: 'native', method: 'DELETE', url: tpl`/v1/tenants/${text}`, writes: true },
      { surface: 'lily', method: 'DELETE', url: tpl`/api/webhooks/${text}`, writes: true },
      { surface: 'lily', method: 'POST', url: tpl`/api/webhooks/${text}/test`, writes: true },
      { surface: 'screenshot', method: 'POST', url: tpl`/api/v1/webhooks/${text}/regenerate-secret`, writes: true },
      { surface: 'screenshot', method: 'DELETE', url: tpl`/api/v1/webhooks/${text}`, writes: true },
    ];
    for (const route of routes) {
      const c: Case = { surface: route.surface, method: route.method, url: '', arb: route.url };
      await fc.assert(fc.asyncProperty(route.url, async (url) => {
        const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : {};
        const label = `${route.surface} ${route.method} ${url.slice(0, 200)}`;
        if (!route.writes) {
          const res = await send(route.surface, route.method, url, body);
          expect(res.status, `${label} → ${JSON.stringify(res.body)?.slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400) expectErrorShape(route.surface, res.body, label);
          return;
        }
        expect(await check(t, c, () => send(route.surface, route.method, url, body), label), label).toBeGreaterThanOrEqual(400);
      }), { numRuns: RUNS, seed: SEED });
    }
  }, 120_000);
});
