import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, createEndpoint, createTenant, publish, TEST_STORE, type TestHerald } from './helpers.js';

// Values that are credentials at rest: endpoint secrets and custom headers, sealed with
// HERALD_ENCRYPTION_KEY, masked wherever more than one endpoint is shown, and erased from the
// SQLite file once sealed.

const { herald, receiver } = closedAfterEach();
const KEY = Buffer.alloc(32, 9).toString('base64');
const CREDENTIAL = 'Bearer receiver-credential-0123456789';
const storedHeaders = async (t: TestHerald, id: string) =>
  (await t.herald.store.db.selectFrom('endpoints').select('headers').where('id', '=', id).executeTakeFirstOrThrow()).headers;

describe('custom endpoint headers', () => {
  it('are sealed at rest, masked in lists and the delivery log, in full from the single read, and sent in full', async () => {
    const t = await herald({ config: { encryptionKey: KEY } });
    await createTenant(t);
    const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key as string;
    const r = await receiver();
    const headers = { Authorization: CREDENTIAL, 'X-Short': 'abc' };
    const ep = await createEndpoint(t, 'acme', { url: r.url, headers });
    expect(ep.headers).toEqual(headers);
    const stored = await storedHeaders(t, ep.id);
    expect(stored.startsWith('enc:v1:')).toBe(true);
    expect(stored).not.toContain('receiver-credential');
    expect(stored).not.toContain('Authorization');

    const listed = (await t.call('GET', '/v1/tenants/acme/endpoints')).body.data[0];
    expect(listed.headers).toEqual({ Authorization: '***6789', 'X-Short': '***' });
    expect((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body.headers).toEqual(headers);

    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    expect(r.requests[0]!.headers.authorization).toBe(CREDENTIAL);
    const [delivery] = (await t.call('GET', '/v1/tenants/acme/deliveries')).body.data;
    const [attempt] = (await t.call('GET', `/v1/tenants/acme/deliveries/${delivery.id}`)).body.attempts;
    expect(attempt.request_headers).toMatchObject({ authorization: '***6789', 'x-short': '***' });
    expect(attempt.request_headers['webhook-signature']).toMatch(/^v1,/);
    const logged = await t.herald.store.db.selectFrom('attempts').select('request_headers').executeTakeFirstOrThrow();
    expect(logged.request_headers).not.toContain('receiver-credential');

    // A change is sealed too.
    const patched = await t.call('PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { headers: { 'X-Api-Key': 'second-credential-abcdef' } });
    expect(patched.body.headers).toEqual({ 'X-Api-Key': 'second-credential-abcdef' });
    expect(await storedHeaders(t, ep.id)).not.toContain('second-credential');

    // The Lily and Screenshot surfaces show no headers at all, for endpoints of their profile given headers natively.
    const lily = await createEndpoint(t, 'acme', { url: r.url, profile: 'lily', headers });
    const shot = await createEndpoint(t, 'acme', { url: r.url.replace('http:', 'https:'), profile: 'screenshot', headers });
    const lilyPaths = ['/api/webhooks', `/api/webhooks/${lily.id}`, `/api/webhooks/${lily.id}/deliveries`];
    const shotPaths = ['/api/v1/webhooks', `/api/v1/webhooks/${shot.id}`, '/api/v1/webhooks/debug/stats', '/api/v1/webhooks/deliveries'];
    const answers = [
      ...lilyPaths.map((url) => t.herald.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })),
      ...shotPaths.map((url) => t.herald.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })),
    ];
    for (const res of await Promise.all(answers)) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).not.toContain('receiver-credential');
    }
  });

  it('written before the key was set are sealed when Herald starts with it, and still sent', async () => {
    const first = await herald();
    await createTenant(first);
    const r = await receiver();
    const ep = await createEndpoint(first, 'acme', { url: r.url, headers: { Authorization: CREDENTIAL } });
    expect(await storedHeaders(first, ep.id)).toContain('receiver-credential');
    await first.stop();
    const second = await herald({ dir: first.dir, config: { encryptionKey: KEY } });
    expect(await storedHeaders(second, ep.id)).toMatch(/^enc:v1:/);
    expect((await second.call('GET', `/v1/tenants/acme/endpoints/${ep.id}`)).body.headers).toEqual({ Authorization: CREDENTIAL });
    await publish(second, 'acme', { type: 'ping', data: {} });
    await second.herald.worker.runOnce();
    expect(r.requests[0]!.headers.authorization).toBe(CREDENTIAL);
  });
});

describe('sealing an existing store', () => {
  // PostgreSQL keeps old row versions until VACUUM marks their space reusable, and never
  // overwrites them: SECURITY.md says what to do there.
  it.runIf(TEST_STORE === 'sqlite')('leaves no plaintext secret or header value in the SQLite file or its WAL', async () => {
    const secret = `whsec_${Buffer.alloc(32, 0x5a).toString('base64')}`;
    const first = await herald();
    await createTenant(first);
    // Enough endpoints that the rows fill pages, and some published traffic beside them.
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await createEndpoint(first, 'acme', { url: `https://hooks.example.com/${i}`, secret, headers: { Authorization: `${CREDENTIAL}-${i}` } })).id);
    for (let i = 0; i < 20; i++) await publish(first, 'acme', { type: 'ping', data: { i } });
    await first.stop();
    const second = await herald({ dir: first.dir, config: { encryptionKey: KEY } });
    expect((await second.call('GET', `/v1/tenants/acme/endpoints/${ids[0]}/secret`)).body.key).toBe(secret);
    const needles = [secret.slice(6, 30), 'receiver-credential'];
    for (const name of ['herald.db', 'herald.db-wal']) {
      const file = join(first.dir, name);
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${needle} in ${name}`).toBe(false);
    }
  });
});
