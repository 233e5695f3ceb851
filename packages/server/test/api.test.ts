import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEndpoint, createTenant, publish, startHerald, TEST_STORE, type TestHerald } from './helpers.js';

let t: TestHerald;
beforeEach(async () => {
  t = await startHerald();
});
afterEach(async () => {
  await t.close();
});

const URL_OK = 'http://127.0.0.1:9/hook';

it('runs on the store this project is for', () => {
  expect(t.herald.store.dialect).toBe(TEST_STORE);
});

describe('auth and tenants', () => {
  it('refuses missing and wrong keys with the same 401', async () => {
    const none = await t.call('GET', '/v1/tenants', undefined, null);
    const wrong = await t.call('GET', '/v1/tenants', undefined, 'sk_live_nope');
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(none.body);
    expect(none.body.error.code).toBe('unauthorized');
  });

  it('creates, lists, reads and deletes tenants as admin; conflicts on a reused id', async () => {
    const created = await t.call('POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: 'acme', name: 'Acme', created_at: expect.stringMatching(/Z$/) });
    const generated = await t.call('POST', '/v1/tenants', { name: 'No id' });
    expect(generated.body.id).toMatch(/^org_/);
    expect((await t.call('POST', '/v1/tenants', { id: 'acme', name: 'Again' })).status).toBe(409);
    const list = await t.call('GET', '/v1/tenants?limit=1');
    expect(list.body.data).toHaveLength(1);
    expect(list.body.next_cursor).not.toBeNull();
    const next = await t.call('GET', `/v1/tenants?limit=1&cursor=${list.body.next_cursor}`);
    expect(next.body.data[0].id).not.toBe(list.body.data[0].id);
    expect((await t.call('GET', '/v1/tenants/acme')).body.name).toBe('Acme');
    expect((await t.call('DELETE', '/v1/tenants/acme')).status).toBe(204);
    expect((await t.call('GET', '/v1/tenants/acme')).status).toBe(404);
  });

  it('tenant keys act on their own tenant only; other tenants are 404 and admin routes 403', async () => {
    await createTenant(t, 'acme');
    await createTenant(t, 'globex');
    const key = await t.call('POST', '/v1/tenants/acme/api-keys', { name: 'ci' });
    expect(key.status).toBe(201);
    expect(key.body.key).toMatch(/^sk_live_/);
    expect(key.body.id).toMatch(/^ak_/);
    expect(key.body.key.startsWith(key.body.prefix)).toBe(true);
    const k = key.body.key as string;
    const ep = await t.call('POST', '/v1/tenants/acme/endpoints', { url: URL_OK }, k);
    expect(ep.status).toBe(201);
    const other = await createEndpoint(t, 'globex', { url: URL_OK });
    expect((await t.call('GET', '/v1/tenants/globex/endpoints', undefined, k)).status).toBe(404);
    expect((await t.call('GET', `/v1/tenants/globex/endpoints/${other.id}`, undefined, k)).status).toBe(404);
    expect((await t.call('POST', '/v1/tenants/globex/events', { type: 'x', data: {} }, k)).status).toBe(404);
    expect((await t.call('GET', '/v1/tenants', undefined, k)).status).toBe(403);
    expect((await t.call('POST', '/v1/tenants/acme/api-keys', {}, k)).status).toBe(403);
    // Another tenant's endpoint under one's own tenant path is also just "not found".
    expect((await t.call('GET', `/v1/tenants/acme/endpoints/${other.id}`, undefined, k)).status).toBe(404);
    // The key list shows prefixes, never keys; revoking stops the key.
    const keys = await t.call('GET', '/v1/tenants/acme/api-keys', undefined, k);
    expect(JSON.stringify(keys.body)).not.toContain(k);
    expect((await t.call('DELETE', `/v1/tenants/acme/api-keys/${key.body.id}`)).status).toBe(204);
    expect((await t.call('GET', '/v1/tenants/acme/endpoints', undefined, k)).status).toBe(401);
  });

  it('stores API keys hashed', async () => {
    await createTenant(t);
    const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key as string;
    const rows = await t.herald.store.db.selectFrom('api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it('expired keys stop working', async () => {
    await createTenant(t);
    const past = await t.call('POST', '/v1/tenants/acme/api-keys', { expires_at: '2000-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
  });
});

describe('endpoints', () => {
  beforeEach(async () => {
    await createTenant(t);
  });

  it('creates with a generated whsec_ secret, which only the secret route returns', async () => {
    const ep = await createEndpoint(t, 'acme', { url: URL_OK, event_types: ['a.b'], description: 'd', metadata: { team: 'x' }, headers: { 'X-Custom': '1' } });
    expect(ep).toMatchObject({ url: URL_OK, profile: 'standard', event_types: ['a.b'], status: 'enabled', headers: { 'X-Custom': '1' }, metadata: { team: 'x' } });
    expect(ep.id).toMatch(/^ep_/);
    expect(JSON.stringify(ep)).not.toContain('whsec_');
    const secret = await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`);
    expect(secret.body.key).toMatch(/^whsec_/);
    expect(Buffer.from(secret.body.key.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const rotated = await t.call('POST', `/v1/tenants/acme/endpoints/${ep.id}/secret/rotate`);
    expect(rotated.body.key).toMatch(/^whsec_/);
    expect(rotated.body.key).not.toBe(secret.body.key);
  });

  it('pages through endpoints of every profile by cursor, each exactly once', async () => {
    // Lily and Screenshot ids are random, not time-ordered: the cursor must follow the sort key.
    const created: string[] = [];
    for (const profile of ['standard', 'lily', 'screenshot', 'standard', 'lily', 'screenshot']) {
      created.push((await createEndpoint(t, 'acme', { url: URL_OK, profile })).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await t.call('GET', `/v1/tenants/acme/endpoints?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.data.map((e: any) => e.id));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(created.length);
    expect([...seen].sort()).toEqual([...created].sort());
  });

  it('updates, lists and deletes', async () => {
    const ep = await createEndpoint(t, 'acme', { url: URL_OK });
    const patched = await t.call('PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { status: 'disabled', event_types: ['x.y'], description: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'disabled', event_types: ['x.y'], description: null });
    expect((await t.call('GET', '/v1/tenants/acme/endpoints')).body.data.map((e: any) => e.id)).toEqual([ep.id]);
    expect((await t.call('DELETE', `/v1/tenants/acme/endpoints/${ep.id}`)).status).toBe(204);
    expect((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).status).toBe(404);
    expect((await t.call('DELETE', `/v1/tenants/acme/endpoints/${ep.id}`)).status).toBe(404);
  });

  it.each([
    [{ url: URL_OK, colour: 'red' }, 'colour', 'UNKNOWN_FIELD'],
    [{ url: 42 }, 'url', 'INVALID_FORMAT'],
    [{}, 'url', 'REQUIRED'],
    [{ url: 'ftp://example.com/x' }, 'url', 'INVALID_FORMAT'],
    [{ url: 'not a url' }, 'url', 'INVALID_FORMAT'],
    [{ url: URL_OK, event_types: 'a.b' }, 'event_types', 'INVALID_FORMAT'],
    [{ url: URL_OK, headers: { 'webhook-signature': 'x' } }, 'headers.webhook-signature', undefined],
    [{ url: URL_OK, headers: { Host: 'evil' } }, 'headers.Host', undefined],
    [{ url: URL_OK, secret: 'too-weak' }, 'secret', undefined],
    [{ url: URL_OK, profile: 'nope' }, 'profile', undefined],
    [{ url: URL_OK, rate_limit: 0 }, 'rate_limit', 'INVALID_FORMAT'],
  ])('refuses %j with a 400 naming %s, writing nothing', async (body, field, code) => {
    const res = await t.call('POST', '/v1/tenants/acme/endpoints', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details[0].field).toBe(field);
    if (code) expect(res.body.error.details[0].code).toBe(code);
    expect((await t.call('GET', '/v1/tenants/acme/endpoints')).body.data).toEqual([]);
  });

  it('refuses private and local URLs unless private networks are allowed', async () => {
    const strict = await startHerald({ config: { allowPrivateNetworks: false } });
    try {
      await createTenant(strict);
      for (const url of ['http://127.0.0.1/x', 'http://localhost/x', 'http://10.0.0.1/x', 'http://[::1]/x', 'http://169.254.169.254/latest', 'http://127.1/x', 'http://[::ffff:127.0.0.1]/x']) {
        const res = await strict.call('POST', '/v1/tenants/acme/endpoints', { url });
        expect(res.status, url).toBe(400);
        expect(res.body.error.details[0].code).toBe('PRIVATE_ADDRESS');
      }
      expect((await strict.call('POST', '/v1/tenants/acme/endpoints', { url: 'https://hooks.example.com/x' })).status).toBe(201);
    } finally {
      await strict.close();
    }
  });
});

describe('events and errors', () => {
  beforeEach(async () => {
    await createTenant(t);
  });

  it('validates data against the event type schema (422) and writes nothing', async () => {
    const type = await t.call('POST', '/v1/tenants/acme/event-types', {
      name: 'invoice.paid', description: 'An invoice was paid',
      schema: { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } },
    });
    expect(type.status).toBe(201);
    expect((await t.call('POST', '/v1/tenants/acme/event-types', { name: 'invoice.paid' })).status).toBe(409);
    expect((await t.call('GET', '/v1/tenants/acme/event-types')).body.data[0].name).toBe('invoice.paid');
    await createEndpoint(t, 'acme', { url: URL_OK });
    const bad = await t.call('POST', '/v1/tenants/acme/events', { type: 'invoice.paid', data: { amount: 'ten' } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('data.amount');
    expect((await t.call('GET', '/v1/tenants/acme/events')).body.data).toEqual([]);
    const good = await publish(t, 'acme', { type: 'invoice.paid', data: { amount: 10 } });
    expect(good.deliveries).toBe(1);
    const shown = await t.call('GET', `/v1/tenants/acme/events/${good.id}`);
    expect(shown.body).toMatchObject({ id: good.id, type: 'invoice.paid', data: { amount: 10 }, environment: 'live' });
  });

  it('refuses an invalid schema', async () => {
    const res = await t.call('POST', '/v1/tenants/acme/event-types', { name: 'x', schema: { type: 'no-such-type' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('schema');
  });

  it('answers malformed JSON, oversize payloads and unknown routes in the one error shape', async () => {
    const malformed = await t.herald.app.inject({ method: 'POST', url: '/v1/tenants/acme/events', headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': 'application/json' }, payload: '{"type":' });
    expect(malformed.statusCode).toBe(400);
    expect(JSON.parse(malformed.body).error.code).toBe('validation_error');
    const big = await t.call('POST', '/v1/tenants/acme/events', { type: 'big', data: { blob: 'x'.repeat(300 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const missing = await t.call('GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('batch publish is all or nothing', async () => {
    await t.call('POST', '/v1/tenants/acme/event-types', { name: 'strict', schema: { type: 'object', required: ['a'] } });
    const bad = await t.call('POST', '/v1/tenants/acme/events/batch', { events: [{ type: 'free', data: {} }, { type: 'strict', data: {} }] });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('events[1].data');
    expect((await t.call('GET', '/v1/tenants/acme/events')).body.data).toEqual([]);
    const ok = await t.call('POST', '/v1/tenants/acme/events/batch', { events: [{ type: 'free', data: {} }, { type: 'strict', data: { a: 1 } }] });
    expect(ok.status).toBe(202);
    expect(ok.body.data).toHaveLength(2);
  });

  it('serves OpenAPI 3.1 and the docs page, and health/ready', async () => {
    const spec = await t.herald.app.inject({ method: 'GET', url: '/openapi.json' });
    const doc = JSON.parse(spec.body);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/tenants', '/v1/tenants/{tid}/endpoints', '/v1/tenants/{tid}/events', '/v1/tenants/{tid}/deliveries/{did}/retry']));
    expect((await t.herald.app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    expect((await t.call('GET', '/health', undefined, null)).body).toEqual({ status: 'ok' });
    // This test Herald runs no worker loop (like an API-only process): ready, with no worker to report.
    const ready = await t.call('GET', '/ready', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', store: true, worker: null });
  });
});
