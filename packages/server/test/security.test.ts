import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { SecretBox } from '../src/store/secret-box.js';
import type { ResolvedAddress } from '../src/delivery/resolver.js';
import { HttpTransport } from '../src/delivery/transport.js';
import { closedAfterEach, createEndpoint, createTenant, publish, startReceiver, type Receiver, type TestHerald } from './helpers.js';

// The attack matrix: SSRF (never a packet off this machine: every listener is on 127.0.0.1 and
// every other address comes from an injected resolver and is refused before a socket opens),
// redirects, tenant isolation, secrets at rest and API rate limits. Fuzzed input: fuzz.test.ts.

const { open, herald, receiver } = closedAfterEach();
const deliveriesOf = async (t: TestHerald, tenant = 'acme') => (await t.call('GET', `/v1/tenants/${tenant}/deliveries`)).body.data as any[];

/** A CONNECT proxy on 127.0.0.1 that tunnels to 127.0.0.1 only (never anywhere else) and records each target. */
async function connectProxy() {
  const net = await import('node:net');
  const http = await import('node:http');
  const targets: string[] = [];
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: import('node:net').Socket, head: Buffer) => {
    targets.push(req.url!);
    const [host, port] = req.url!.split(':');
    if (host !== '127.0.0.1') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  return { url: `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`, targets };
}

describe('SSRF guard', () => {
  it('refuses loopback targets in every spelling at creation, on every surface, and the listener sees nothing', async () => {
    const listener = await receiver(200);
    const p = listener.port;
    const t = await herald({ config: { allowPrivateNetworks: false, jwtSecret: 'jwt-secret-for-the-security-test-0123456789' } });
    await createTenant(t);
    const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key;
    const spellings = [
      `http://127.0.0.1:${p}/`, `http://[::1]:${p}/`, `http://localhost:${p}/`, `http://LOCALHOST.:${p}/`, `http://api.localhost:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`, `http://[::ffff:7f00:1]:${p}/`, `http://0.0.0.0:${p}/`, `http://0:${p}/`,
      `http://2130706433:${p}/`, `http://0177.0.0.1:${p}/`, `http://0x7f000001:${p}/`, `http://0x7f.0.0.1:${p}/`, `http://127.1:${p}/`, `http://127.0.0.1.:${p}/`,
      `https://127.0.0.1:${p}/`, `http://[0:0:0:0:0:0:0:1]:${p}/`, `http://[::7f00:1]:${p}/`, `http://[::127.0.0.1]:${p}/`, `http://[0::7f00:0001]:${p}/`,
    ];
    for (const url of spellings) {
      const native = await t.call('POST', '/v1/tenants/acme/endpoints', { url });
      expect(native.status, url).toBe(400);
      expect(native.body.error.details[0].code, url).toBe('PRIVATE_ADDRESS');
      const lily = await t.call('POST', '/api/webhooks', { url, events: ['post.published'] }, key);
      expect(lily.status, `lily ${url}`).toBe(400);
      const screenshot = await t.herald.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: { 'x-api-key': key }, payload: { url: url.replace('http:', 'https:'), events: ['CREDITS_LOW'] } });
      expect(screenshot.statusCode, `screenshot ${url}`).toBe(400);
    }
    expect((await t.call('GET', '/v1/tenants/acme/endpoints')).body.data).toEqual([]);
    expect(listener.requests).toHaveLength(0);
  });

  it('refuses private and special ranges at creation', async () => {
    const t = await herald({ config: { allowPrivateNetworks: false } });
    await createTenant(t);
    for (const host of ['10.0.0.1', '10.255.255.254', '172.16.0.1', '172.31.255.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.1',
      '[fc00::1]', '[fd12:3456::1]', '[fe80::1]', '224.0.0.1', '255.255.255.255', '198.18.0.1', '[::]', '[::ffff:10.0.0.1]', '[64:ff9b::a00:1]',
      '[::a00:1]', '[::a9fe:a9fe]', '[::169.254.169.254]', '[::ffff:0:a00:1]', '[64:ff9b:1::a00:1]', '[2002:a00:1::1]', '[2001:0:a00:1::1]', '[100::1]']) {
      const res = await t.call('POST', '/v1/tenants/acme/endpoints', { url: `http://${host}/hook` });
      expect(res.status, host).toBe(400);
    }
    // Public addresses and names are accepted at creation (names are vetted again at every attempt).
    expect((await t.call('POST', '/v1/tenants/acme/endpoints', { url: 'https://93.184.216.34/hook' })).status).toBe(201);
    expect((await t.call('POST', '/v1/tenants/acme/endpoints', { url: 'https://hooks.example.com/hook' })).status).toBe(201);
  });

  it('a name that resolves to a private or special address is refused before any socket opens, recorded as blocked and not retried', async () => {
    const answers: Record<string, ResolvedAddress[]> = {
      'ten.attacker.test': [{ address: '10.0.0.5', family: 4 }],
      'meta.attacker.test': [{ address: '169.254.169.254', family: 4 }],
      'cgnat.attacker.test': [{ address: '100.64.1.1', family: 4 }],
      'ula.attacker.test': [{ address: 'fc00::5', family: 6 }],
      'mapped.attacker.test': [{ address: '::ffff:192.168.0.1', family: 6 }],
      'loop.attacker.test': [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }],
    };
    const dials: string[] = [];
    const lookups: string[] = [];
    const clock = new ManualClock();
    const t = await herald({
      clock,
      config: { allowPrivateNetworks: false },
      resolver: async (host) => {
        lookups.push(host);
        return answers[host] ?? [];
      },
      onDial: (_h, address) => dials.push(address),
    });
    await createTenant(t);
    const listener = await receiver(200);
    for (const host of Object.keys(answers)) await createEndpoint(t, 'acme', { url: `http://${host}:${listener.port}/hook` });
    await publish(t, 'acme', { type: 'probe', data: {} });
    await t.herald.worker.runOnce();
    clock.advance(3600_000);
    await t.herald.worker.runOnce();
    expect(new Set(lookups)).toEqual(new Set(Object.keys(answers)));
    expect(dials).toEqual([]);
    expect(listener.requests).toHaveLength(0);
    const deliveries = await deliveriesOf(t);
    expect(deliveries).toHaveLength(6);
    for (const d of deliveries) expect(d).toMatchObject({ status: 'failed', attempt_count: 1, last_error_kind: 'blocked' });
  });

  it('refuses IPv4-compatible (::/96) and other IPv4-embedding IPv6 answers at connect time, before dialing', async () => {
    const answers: Record<string, ResolvedAddress[]> = {
      'compat.attacker.test': [{ address: '::7f00:1', family: 6 }],
      'compat-meta.attacker.test': [{ address: '::a9fe:a9fe', family: 6 }],
      'nat64.attacker.test': [{ address: '64:ff9b::a00:5', family: 6 }],
      'sixtofour.attacker.test': [{ address: '2002:a00:5::1', family: 6 }],
    };
    const dials: string[] = [];
    const t = await herald({
      config: { allowPrivateNetworks: false },
      resolver: async (host) => answers[host] ?? [],
      onDial: (_h, address) => {
        dials.push(address);
        // Last guard, should the check under test be broken: never open a socket off this machine.
        if (address !== '127.0.0.1' && address !== '::1') throw new Error(`test refuses to dial ${address}`);
      },
    });
    await createTenant(t);
    for (const host of Object.keys(answers)) await createEndpoint(t, 'acme', { url: `http://${host}/hook` });
    await publish(t, 'acme', { type: 'probe', data: {} });
    await t.herald.worker.runOnce();
    expect(dials).toEqual([]);
    const deliveries = await deliveriesOf(t);
    expect(deliveries).toHaveLength(4);
    for (const d of deliveries) expect(d).toMatchObject({ status: 'failed', last_error_kind: 'blocked' });
  });

  it('refuses an IPv4-compatible literal at connect time too (through a loopback proxy that would record it)', async () => {
    const proxy = await connectProxy();
    const transport = new HttpTransport({ addressPolicy: { allowPrivateNetworks: false, allowCidrs: [] }, proxyUrl: proxy.url });
    open.push(transport);
    for (const url of ['http://[::7f00:1]:8080/hook', 'http://[::a9fe:a9fe]/latest/meta-data/', 'http://[::ffff:0:a00:1]/']) {
      const res = await transport.send({ url, headers: {}, body: '{}', timeoutMs: 2000 });
      expect(res.errorKind, url).toBe('blocked');
    }
    expect(proxy.targets).toEqual([]);
  });

  it('vets every new connection: a name that rebinds to a private address after a first, allowed answer is blocked', async () => {
    const listener = await receiver(200);
    let answer: ResolvedAddress = { address: '127.0.0.1', family: 4 };
    const dials: string[] = [];
    const t = await herald({
      // The operator allowed this one internal range; the attacker's name first points into it.
      config: { allowPrivateNetworks: false, allowCidrs: ['127.0.0.0/8'] },
      resolver: async () => [answer],
      onDial: (_h, address) => dials.push(address),
    });
    await createTenant(t);
    await createEndpoint(t, 'acme', { url: `http://rebind.attacker.test:${listener.port}/hook` });
    await publish(t, 'acme', { type: 'first', data: {} });
    await t.herald.worker.runOnce();
    expect(listener.requests).toHaveLength(1);
    expect(dials).toEqual(['127.0.0.1']);
    answer = { address: '10.0.0.7', family: 4 };
    listener.dropConnections(); // the next attempt must connect (and so resolve) again
    await new Promise((resolve) => setTimeout(resolve, 50));
    await publish(t, 'acme', { type: 'second', data: {} });
    await t.herald.worker.runOnce();
    expect(listener.requests).toHaveLength(1);
    expect(dials).toEqual(['127.0.0.1']);
    const second = (await deliveriesOf(t)).find((d) => d.event_type === 'second');
    expect(second).toMatchObject({ status: 'failed', last_error_kind: 'blocked' });
  });

  it('never follows redirects: the redirect target sees nothing', async () => {
    const target = await receiver(200);
    const redirector = await receiver({ status: 302, headers: { location: `${target.url}/stolen` } });
    const t = await herald();
    await createTenant(t);
    await createEndpoint(t, 'acme', { url: redirector.url });
    await publish(t, 'acme', { type: 'probe', data: {} });
    await t.herald.worker.runOnce();
    expect(redirector.requests).toHaveLength(1);
    expect(target.requests).toHaveLength(0);
    expect((await deliveriesOf(t))[0]).toMatchObject({ status: 'retrying', last_status_code: 302, last_error_kind: 'http' });
  });
});

describe('endpoint secrets at rest', () => {
  const KEY = Buffer.alloc(32, 9).toString('base64');
  const storedSecret = async (t: TestHerald, id: string) =>
    (await t.herald.store.db.selectFrom('endpoints').select(['secret', 'previous_secret']).where('id', '=', id).executeTakeFirstOrThrow());

  it('are sealed with AES-256-GCM when HERALD_ENCRYPTION_KEY is set, and still sign correctly', async () => {
    const t = await herald({ config: { encryptionKey: KEY } });
    await createTenant(t);
    const r = await receiver();
    const ep = await createEndpoint(t, 'acme', { url: r.url });
    const secret = (await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`)).body.key as string;
    const stored = await storedSecret(t, ep.id);
    expect(stored.secret.startsWith('enc:v1:')).toBe(true);
    expect(stored.secret).not.toContain(secret.slice(6));
    await t.call('POST', `/v1/tenants/acme/endpoints/${ep.id}/secret/rotate`, {});
    expect((await storedSecret(t, ep.id)).previous_secret!.startsWith('enc:v1:')).toBe(true);
    await publish(t, 'acme', { type: 'probe', data: {} });
    await t.herald.worker.runOnce();
    // Both the new and the rotated-out secret sign (overlap), each verifiable.
    const { Webhook } = await import('standardwebhooks');
    const newSecret = (await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`)).body.key as string;
    for (const s of [secret, newSecret]) expect(() => new Webhook(s).verify(r.requests[0]!.body, r.requests[0]!.headers as Record<string, string>)).not.toThrow();
  });

  it('seals secrets written before the key was set when Herald starts with it; a wrong key cannot open them', async () => {
    const first = await herald();
    await createTenant(first);
    const ep = await createEndpoint(first, 'acme', { url: 'https://hooks.example.com/x' });
    const secret = (await first.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`)).body.key;
    expect((await storedSecret(first, ep.id)).secret).toBe(secret);
    await first.stop();
    const second = await herald({ dir: first.dir, config: { encryptionKey: KEY } });
    expect((await storedSecret(second, ep.id)).secret.startsWith('enc:v1:')).toBe(true);
    expect((await second.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`)).body.key).toBe(secret);
    const sealed = (await storedSecret(second, ep.id)).secret;
    expect(() => SecretBox.fromKey(Buffer.alloc(32, 1).toString('base64')).open(sealed)).toThrow();
    expect(() => SecretBox.fromKey('too-short')).toThrow(/32 bytes/);
    expect(() => SecretBox.plaintext().open(sealed)).toThrow(/HERALD_ENCRYPTION_KEY/);
  });
});

describe('API rate limit', () => {
  it('limits each key separately, answering 429 with Retry-After in each surface’s error shape', async () => {
    const t = await herald({ config: { apiRateLimit: 5, jwtSecret: 'jwt-secret-for-the-security-test-0123456789' } });
    await createTenant(t);
    await createTenant(t, 'other');
    const key = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body.key;
    const otherKey = (await t.call('POST', '/v1/tenants/other/api-keys', {})).body.key;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.call('GET', '/v1/tenants/acme/endpoints', undefined, key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await t.call('GET', '/v1/tenants/acme/endpoints', undefined, key);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.body.error.code).toBe('rate_limited');
    // Another key is unaffected; the same key is limited on the profile surfaces too, in their shapes.
    expect((await t.call('GET', '/v1/tenants/other/endpoints', undefined, otherKey)).status).toBe(200);
    const lily = await t.call('GET', '/api/webhooks', undefined, key);
    expect(lily.status).toBe(429);
    const shot = await t.herald.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: { 'x-api-key': key } });
    expect(shot.statusCode).toBe(429);
    expect(shot.headers['retry-after']).toBeDefined();
    // Health checks are never limited.
    expect((await t.call('GET', '/health', undefined, null)).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it('every native route, tried with another tenant’s key on this tenant’s resources, is 404 (or 403 for admin-only routes) and changes nothing', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock });
    await createTenant(t);
    await createTenant(t, 'evil');
    const evil = (await t.call('POST', '/v1/tenants/evil/api-keys', {})).body.key;
    const r = await receiver(500);
    const ep = await createEndpoint(t, 'acme', { url: r.url });
    await t.call('POST', '/v1/tenants/acme/event-types', { name: 'probe' });
    const event = await publish(t, 'acme', { type: 'probe', data: { x: 1 } });
    await t.herald.worker.runOnce();
    const [delivery] = await deliveriesOf(t);
    const recovery = (await t.call('POST', `/v1/tenants/acme/endpoints/${ep.id}/recover`, { since: new Date(0).toISOString() })).body;
    const acmeKey = (await t.call('POST', '/v1/tenants/acme/api-keys', {})).body;

    const snapshot = async () => JSON.stringify(await Promise.all([
      t.call('GET', '/v1/tenants/acme/endpoints'), t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`), t.call('GET', '/v1/tenants/acme/events'),
      t.call('GET', '/v1/tenants/acme/deliveries'), t.call('GET', `/v1/tenants/acme/deliveries/${delivery.id}`), t.call('GET', '/v1/tenants/acme/api-keys'),
      t.call('GET', '/v1/tenants/acme/event-types'), t.call('GET', `/v1/tenants/acme/recoveries/${recovery.id}`), t.call('GET', '/v1/tenants/acme'),
    ].map((p) => p.then((x) => x.body))));
    const before = await snapshot();
    const requestsBefore = r.requests.length;

    // Each resource is tried both under its own tenant's path and under the attacker's own path.
    const routes: [string, string, unknown?][] = [];
    for (const tid of ['acme', 'evil']) {
      routes.push(
        ['GET', `/v1/tenants/${tid}/endpoints/${ep.id}`], ['PATCH', `/v1/tenants/${tid}/endpoints/${ep.id}`, { description: 'owned' }],
        ['DELETE', `/v1/tenants/${tid}/endpoints/${ep.id}`], ['GET', `/v1/tenants/${tid}/endpoints/${ep.id}/secret`],
        ['POST', `/v1/tenants/${tid}/endpoints/${ep.id}/secret/rotate`, {}], ['POST', `/v1/tenants/${tid}/endpoints/${ep.id}/test`, {}],
        ['POST', `/v1/tenants/${tid}/endpoints/${ep.id}/recover`, { since: new Date(0).toISOString() }], ['GET', `/v1/tenants/${tid}/endpoints/${ep.id}/recoveries`],
        ['GET', `/v1/tenants/${tid}/recoveries/${recovery.id}`], ['GET', `/v1/tenants/${tid}/events/${event.id}`],
        ['POST', `/v1/tenants/${tid}/events/${event.id}/resend`, { endpoint_id: ep.id }], ['GET', `/v1/tenants/${tid}/deliveries/${delivery.id}`],
        ['POST', `/v1/tenants/${tid}/deliveries/${delivery.id}/retry`],
      );
    }
    routes.push(
      ['GET', '/v1/tenants/acme'], ['GET', '/v1/tenants/acme/endpoints'], ['POST', '/v1/tenants/acme/endpoints', { url: r.url }],
      ['GET', '/v1/tenants/acme/events'], ['POST', '/v1/tenants/acme/events', { type: 'probe', data: {} }],
      ['POST', '/v1/tenants/acme/events/batch', { events: [{ type: 'probe', data: {} }] }], ['GET', '/v1/tenants/acme/deliveries'],
      ['GET', '/v1/tenants/acme/event-types'], ['POST', '/v1/tenants/acme/event-types', { name: 'owned' }],
      ['GET', '/v1/tenants/acme/api-keys'], ['POST', '/v1/tenants/acme/api-keys', {}], ['DELETE', `/v1/tenants/acme/api-keys/${acmeKey.id}`],
      ['DELETE', '/v1/tenants/acme'], ['GET', '/v1/tenants'],
    );
    for (const [method, url, body] of routes) {
      const res = await t.call(method, url, body, evil);
      expect([403, 404], `${method} ${url} → ${res.status}`).toContain(res.status);
    }
    // The attacker's own lists show nothing of the victim's.
    expect((await t.call('GET', '/v1/tenants/evil/deliveries', undefined, evil)).body.data).toEqual([]);
    expect((await t.call('GET', '/v1/tenants/evil/events', undefined, evil)).body.data).toEqual([]);
    expect((await t.call('GET', '/v1/tenants/evil/endpoints', undefined, evil)).body.data).toEqual([]);
    // Nothing of the victim's changed: endpoints, secret, events, deliveries (none queued by a retry,
    // resend or test), keys, event types, the recovery job, the tenant; and nothing was sent.
    expect(await snapshot()).toBe(before);
    await t.herald.worker.runOnce();
    expect(r.requests.length).toBe(requestsBefore);
  });
});

describe('outbound proxy', () => {
  it('sends webhooks through HERALD_OUTBOUND_PROXY, still refusing private targets before asking it', async () => {
    const proxy = await connectProxy();
    const r = await receiver(200);
    const dev = await herald({ config: { outboundProxy: proxy.url } });
    await createTenant(dev);
    await createEndpoint(dev, 'acme', { url: r.url });
    await publish(dev, 'acme', { type: 'via.proxy', data: {} });
    await dev.herald.worker.runOnce();
    expect(proxy.targets).toEqual([`127.0.0.1:${r.port}`]);
    expect(r.requests).toHaveLength(1);
    expect((await deliveriesOf(dev))[0]).toMatchObject({ status: 'delivered' });

    const strict = await herald({ config: { outboundProxy: proxy.url, allowPrivateNetworks: false }, resolver: async () => [{ address: '10.1.2.3', family: 4 }] });
    await createTenant(strict);
    await createEndpoint(strict, 'acme', { url: `http://internal.attacker.test:${r.port}/` });
    await publish(strict, 'acme', { type: 'via.proxy', data: {} });
    await strict.herald.worker.runOnce();
    expect(proxy.targets).toHaveLength(1);
    expect((await deliveriesOf(strict))[0]).toMatchObject({ status: 'failed', last_error_kind: 'blocked' });
  });
});
