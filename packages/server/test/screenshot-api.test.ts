import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTenant, publish, startHerald, startReceiver, type Receiver, type TestHerald } from './helpers.js';

const JWT_SECRET = 'screenshot-test-jwt-secret-0123456789abcdef';
let t: TestHerald;
let r: Receiver;
let apiKey: string;
let keyId: string;
let otherKey: string;

const jwt = (sub: string, opts: { secret?: string; expiresIn?: string } = {}) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(opts.expiresIn ?? '1h')
    .sign(Buffer.from(opts.secret ?? JWT_SECRET));

async function call(method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const res = await t.herald.app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}
const asUser = (method: string, url: string, body?: unknown, key = apiKey) => call(method, url, { 'x-api-key': key }, body);

beforeEach(async () => {
  t = await startHerald({ config: { jwtSecret: JWT_SECRET } });
  r = await startReceiver();
  await createTenant(t, 'user_456');
  await createTenant(t, 'user_789');
  const k = (await t.call('POST', '/v1/tenants/user_456/api-keys', {})).body;
  apiKey = k.key;
  keyId = k.id;
  otherKey = (await t.call('POST', '/v1/tenants/user_789/api-keys', {})).body.key;
});
afterEach(async () => {
  await t.close();
  await r.close();
});

const createBody = () => ({ url: `${r.url}/webhooks`, events: ['SCREENSHOT_COMPLETED', 'CREDITS_LOW'], description: 'Production webhook for notifications' });

describe('Screenshot API authentication', () => {
  it('accepts X-API-Key, Bearer JWT and X-API-Key-ID + JWT, each as the same user', async () => {
    const created = await asUser('POST', '/api/v1/webhooks', createBody());
    expect(created.status).toBe(201);
    const token = await jwt('user_456');
    for (const headers of [{ 'x-api-key': apiKey }, { authorization: `Bearer ${token}` }, { authorization: `Bearer ${token}`, 'x-api-key-id': keyId }] as Record<string, string>[]) {
      const res = await call('GET', '/api/v1/webhooks', headers);
      expect(res.status, JSON.stringify(Object.keys(headers))).toBe(200);
      expect(res.body.webhooks.map((w: any) => w.id)).toEqual([created.body.id]);
    }
  });

  it('refuses expired, wrongly signed and unsigned tokens, mismatched key ids and missing credentials with 401', async () => {
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'user_456', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')}.`;
    const otherKeyId = (await t.call('POST', '/v1/tenants/user_789/api-keys', {})).body.id;
    const cases: Record<string, string>[] = [
      {},
      { 'x-api-key': 'sk_live_not_a_key' },
      { authorization: `Bearer ${await jwt('user_456', { expiresIn: '-1m' })}` },
      { authorization: `Bearer ${await jwt('user_456', { secret: 'some-other-secret-some-other-secret' })}` },
      { authorization: `Bearer ${unsigned}` },
      { authorization: `Bearer ${await jwt('user_nobody')}` },
      { authorization: `Bearer ${await jwt('user_456')}`, 'x-api-key-id': otherKeyId },
      { authorization: `Bearer ${await jwt('user_456')}`, 'x-api-key-id': 'ak_unknown' },
      { 'x-api-key-id': keyId },
    ];
    for (const headers of cases) {
      const res = await call('GET', '/api/v1/webhooks', headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body).toEqual({ error: 'UNAUTHORIZED', message: 'Authentication required' });
    }
    await t.call('DELETE', `/v1/tenants/user_456/api-keys/${keyId}`);
    expect((await call('GET', '/api/v1/webhooks', { authorization: `Bearer ${await jwt('user_456')}`, 'x-api-key-id': keyId })).status).toBe(401);
  });

  it('refuses a token without `exp` (it would never expire) unless HERALD_JWT_ALLOW_NO_EXP is set', async () => {
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('user_456').setIssuedAt().sign(Buffer.from(JWT_SECRET));
    expect(await call('GET', '/api/v1/webhooks', { authorization: `Bearer ${noExp}` })).toEqual({ status: 401, body: { error: 'UNAUTHORIZED', message: 'Authentication required' } });
    const lenient = await startHerald({ config: { jwtSecret: JWT_SECRET, jwtAllowNoExp: true } });
    try {
      await createTenant(lenient, 'user_456');
      expect((await lenient.herald.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: { authorization: `Bearer ${noExp}` } })).statusCode).toBe(200);
    } finally {
      await lenient.close();
    }
  });

  it('verifies RS256 tokens with HERALD_JWT_PUBLIC_KEY', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = await startHerald({ config: { jwtPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() } });
    try {
      await createTenant(rs, 'user_456');
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('user_456').setExpirationTime('1h').sign(privateKey);
      expect((await rs.herald.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      const hs = await jwt('user_456');
      expect((await rs.herald.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: { authorization: `Bearer ${hs}` } })).statusCode).toBe(401);
    } finally {
      await rs.close();
    }
  });
});

describe('Screenshot API /api/v1/webhooks', () => {
  it('creates with the guide response, lists without secrets, updates, regenerates the secret and deletes', async () => {
    const created = await asUser('POST', '/api/v1/webhooks', createBody());
    expect(created.status).toBe(201);
    expect(Object.keys(created.body)).toEqual(['id', 'userId', 'url', 'events', 'isActive', 'description', 'secret', 'createdAt', 'updatedAt']);
    expect(created.body).toMatchObject({ userId: 'user_456', url: `${r.url}/webhooks`, events: ['SCREENSHOT_COMPLETED', 'CREDITS_LOW'], isActive: true, description: 'Production webhook for notifications' });
    expect(created.body.id).toMatch(/^wh_[0-9a-f]{16}$/);
    expect(created.body.secret).toMatch(/^whs_/);
    expect(created.body.secret.length).toBeGreaterThanOrEqual(32);
    const list = await asUser('GET', '/api/v1/webhooks');
    expect(list.body.total).toBe(1);
    expect(list.body.webhooks[0].secret).toBeUndefined();
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);

    const put = await asUser('PUT', `/api/v1/webhooks/${created.body.id}`, { events: ['SCREENSHOT_COMPLETED', 'SCREENSHOT_FAILED'], isActive: false });
    expect(put.body).toMatchObject({ events: ['SCREENSHOT_COMPLETED', 'SCREENSHOT_FAILED'], isActive: false });
    await asUser('PUT', `/api/v1/webhooks/${created.body.id}`, { isActive: true });

    const regenerated = await asUser('POST', `/api/v1/webhooks/${created.body.id}/regenerate-secret`);
    expect(regenerated.body.secret).toMatch(/^whs_/);
    expect(regenerated.body.secret).not.toBe(created.body.secret);
    await publish(t, 'user_456', { type: 'SCREENSHOT_COMPLETED', data: { screenshotId: 'job_abc123' } });
    await t.herald.worker.runOnce();
    const sig = r.requests[0]!.headers['x-webhook-signature-256'];
    expect(sig).toBe(`sha256=${createHmac('sha256', regenerated.body.secret).update(r.requests[0]!.body).digest('hex')}`);

    expect((await asUser('DELETE', `/api/v1/webhooks/${created.body.id}`)).status).toBe(204);
    expect((await asUser('GET', '/api/v1/webhooks')).body.total).toBe(0);
  });

  it('enforces the guide limits with its exact error bodies, writing nothing', async () => {
    const long = await asUser('POST', '/api/v1/webhooks', { ...createBody(), url: `https://example.com/${'a'.repeat(2048)}` });
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ error: 'VALIDATION_ERROR', message: expect.any(String), details: { field: 'url', code: 'TOO_LONG' } });
    const badEvent = await asUser('POST', '/api/v1/webhooks', { ...createBody(), events: ['SCREENSHOT_EXPLODED'] });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.details).toEqual({ field: 'events', code: 'INVALID_EVENT' });
    const badUrl = await asUser('POST', '/api/v1/webhooks', { ...createBody(), url: 'not a url' });
    expect(badUrl.body).toMatchObject({ error: 'VALIDATION_ERROR', details: { field: 'url', code: 'INVALID_FORMAT' } });
    expect((await asUser('GET', '/api/v1/webhooks')).body.total).toBe(0);

    for (let i = 0; i < 10; i++) expect((await asUser('POST', '/api/v1/webhooks', createBody())).status).toBe(201);
    const eleventh = await asUser('POST', '/api/v1/webhooks', createBody());
    expect(eleventh.status).toBe(403);
    expect(eleventh.body).toEqual({ error: 'FORBIDDEN', message: 'Webhook limit exceeded (max 10 per user)' });
    expect((await asUser('GET', '/api/v1/webhooks')).body.total).toBe(10);

    const missing = await asUser('GET', '/api/v1/webhooks/wh_1234567890abcdef');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'RESOURCE_NOT_FOUND', message: 'Webhook not found', resourceType: 'Webhook', resourceId: 'wh_1234567890abcdef' });
  });

  it('requires https unless private networks are allowed (development)', async () => {
    const strict = await startHerald({ config: { allowPrivateNetworks: false } });
    try {
      await createTenant(strict, 'user_456');
      const key = (await strict.call('POST', '/v1/tenants/user_456/api-keys', {})).body.key;
      const res = await strict.herald.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: { 'x-api-key': key }, payload: { url: 'http://hooks.example.com/x', events: ['CREDITS_LOW'] } });
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body).details).toEqual({ field: 'url', code: 'HTTPS_REQUIRED' });
      const ok = await strict.herald.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: { 'x-api-key': key }, payload: { url: 'https://hooks.example.com/x', events: ['CREDITS_LOW'] } });
      expect(ok.statusCode).toBe(201);
    } finally {
      await strict.close();
    }
  });

  it("another user's webhook is 404 on every route and stays unchanged", async () => {
    const id = (await asUser('POST', '/api/v1/webhooks', createBody())).body.id;
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/v1/webhooks/${id}`], ['PUT', `/api/v1/webhooks/${id}`, { isActive: false }], ['DELETE', `/api/v1/webhooks/${id}`],
      ['POST', `/api/v1/webhooks/${id}/regenerate-secret`], ['POST', `/api/v1/webhooks/${id}/test`], ['GET', `/api/v1/webhooks/${id}/deliveries`], ['GET', `/api/v1/webhooks/${id}/stats`],
    ];
    for (const [method, url, body] of routes) {
      const res = await asUser(method, url, body, otherKey);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body).toMatchObject({ error: 'RESOURCE_NOT_FOUND', resourceId: id });
    }
    expect((await asUser('GET', `/api/v1/webhooks/${id}`)).body.isActive).toBe(true);
    expect((await asUser('GET', '/api/v1/webhooks/deliveries', undefined, otherKey)).body.deliveries).toEqual([]);
    expect(r.requests).toHaveLength(0);
  });

  it('test sends WEBHOOK_TEST; deliveries show uppercase statuses; stats match the deliveries made', async () => {
    const id = (await asUser('POST', '/api/v1/webhooks', { url: r.url, events: ['SCREENSHOT_COMPLETED', 'PAYMENT_FAILED', 'CREDITS_LOW', 'USER_REGISTERED'] })).body.id;
    expect((await asUser('POST', `/api/v1/webhooks/${id}/test`)).status).toBe(202);
    await t.herald.worker.runOnce();
    expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ event: 'WEBHOOK_TEST', data: { webhookId: id } });
    r.replies.push(200, 500, 404);
    for (const type of ['SCREENSHOT_COMPLETED', 'PAYMENT_FAILED', 'CREDITS_LOW']) await publish(t, 'user_456', { type, data: {} });
    await t.herald.worker.runOnce();
    const deliveries = (await asUser('GET', `/api/v1/webhooks/${id}/deliveries?limit=50`)).body.deliveries;
    expect(deliveries.map((d: any) => d.status).sort()).toEqual(['DELIVERED', 'DELIVERED', 'FAILED', 'RETRYING']);
    expect(deliveries.find((d: any) => d.status === 'RETRYING').nextRetryAt).toEqual(expect.any(String));
    const stats = await asUser('GET', `/api/v1/webhooks/${id}/stats?days=30`);
    expect(stats.body).toEqual({ total: 4, delivered: 2, failed: 1, pending: 1, successRate: 0.5, averageResponseTimeMs: expect.any(Number) });
    const all = await asUser('GET', '/api/v1/webhooks/deliveries?limit=100');
    expect(all.body.deliveries).toHaveLength(4);
    const debug = await asUser('GET', '/api/v1/webhooks/debug/stats');
    expect(debug.body).toMatchObject({ totalConfigurations: 1, activeConfigurations: 1, deliveryStats: { DELIVERED: 2, FAILED: 1, RETRYING: 1, PENDING: 0 } });
    expect(debug.body.availableEvents).toHaveLength(11);
  });
});
