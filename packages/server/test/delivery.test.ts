import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '../src/core/clock.js';
import { DEFAULTS } from '../src/config/index.js';
import { dnsNotFound } from '../src/delivery/resolver.js';
import { closedAfterEach, createEndpoint, createTenant, publish, startHerald, startReceiver, TEST_STORE, type Receiver, type TestHerald } from './helpers.js';

const { open, herald, receiver } = closedAfterEach();
const deliveriesOf = async (t: TestHerald, query = '') => (await t.call('GET', `/v1/tenants/acme/deliveries${query}`)).body.data as any[];
const detail = async (t: TestHerald, id: string) => (await t.call('GET', `/v1/tenants/acme/deliveries/${id}`)).body;
const waitUntil = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await check()).toBe(true);
};

describe('delivery', () => {
  it('fans out to subscribed endpoints only, signed so that the standardwebhooks library verifies it', async () => {
    const t = await herald();
    await createTenant(t);
    const [a, b, c] = [await receiver(), await receiver(), await receiver()];
    const epA = await createEndpoint(t, 'acme', { url: `${a.url}/a`, event_types: ['user.created'] });
    await createEndpoint(t, 'acme', { url: `${b.url}/b`, event_types: ['invoice.paid'] });
    await createEndpoint(t, 'acme', { url: `${c.url}/c` }); // no filter: everything
    const published = await publish(t, 'acme', { type: 'user.created', data: { id: 'u_1', name: 'Ada' } });
    expect(published.deliveries).toBe(2);
    expect(await t.herald.worker.runOnce()).toBe(2);
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    expect(c.requests).toHaveLength(1);

    const req = a.requests[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['webhook-id']).toBe(published.id);
    const secret = (await t.call('GET', `/v1/tenants/acme/endpoints/${epA.id}/secret`)).body.key;
    const verified = new Webhook(secret).verify(req.body, req.headers as Record<string, string>) as any;
    expect(verified).toEqual({ type: 'user.created', timestamp: expect.any(String), data: { id: 'u_1', name: 'Ada' } });
    expect(() => new Webhook(secret).verify(req.body.replace('Ada', 'Eve'), req.headers as Record<string, string>)).toThrow();

    const [delivery] = await deliveriesOf(t, `?endpoint_id=${epA.id}`);
    expect(delivery).toMatchObject({ event_id: published.id, status: 'delivered', attempt_count: 1, last_status_code: 200 });
    const full = await detail(t, delivery.id);
    expect(full.attempts).toHaveLength(1);
    expect(full.attempts[0]).toMatchObject({ attempt_number: 1, response_status: 200, response_body: 'ok', error_kind: null });
    expect(full.attempts[0].request_headers['webhook-signature']).toBe(req.headers['webhook-signature']);
  });

  it('500 then 200: delivered on attempt 2 after the 5 s retry, both attempts logged, same webhook-id', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, worker: { random: () => 0.5 } });
    await createTenant(t);
    const r = await receiver();
    r.replies.push({ status: 500, body: 'boom' });
    await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    let [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'retrying', attempt_count: 1, last_status_code: 500, last_error_kind: 'http' });
    expect(Date.parse(d.next_attempt_at) - clock.now()).toBe(5_000);
    clock.advance(4_999);
    expect(await t.herald.worker.runOnce()).toBe(0);
    clock.advance(1);
    expect(await t.herald.worker.runOnce()).toBe(1);
    [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'delivered', attempt_count: 2 });
    const full = await detail(t, d.id);
    expect(full.attempts.map((a: any) => [a.attempt_number, a.response_status, a.response_body])).toEqual([[1, 500, 'boom'], [2, 200, 'ok']]);
    expect(r.requests[0]!.headers['webhook-id']).toBe(r.requests[1]!.headers['webhook-id']);
  });

  it('walks the whole native schedule with an injected clock, then fails', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, worker: { random: () => 0.5 } });
    await createTenant(t);
    const r = await receiver(503);
    await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    const gaps = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
    await t.herald.worker.runOnce();
    for (const gap of gaps) {
      clock.advance(gap - 1);
      expect(await t.herald.worker.runOnce()).toBe(0);
      clock.advance(1);
      expect(await t.herald.worker.runOnce()).toBe(1);
    }
    const [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'failed', attempt_count: 8, next_attempt_at: null });
    expect(r.requests).toHaveLength(8);
    clock.advance(100 * 3_600_000);
    expect(await t.herald.worker.runOnce()).toBe(0);
    // A manual retry makes exactly one more attempt.
    r.fallback = 200;
    expect((await t.call('POST', `/v1/tenants/acme/deliveries/${d.id}/retry`)).status).toBe(202);
    await t.herald.worker.runOnce();
    expect((await detail(t, d.id))).toMatchObject({ status: 'delivered', attempt_count: 9 });
  });

  it('logs timeouts, refused connections and DNS failures with their kind', async () => {
    const t = await herald({
      config: { attemptTimeoutMs: 300 },
      resolver: async (host) => {
        if (host.endsWith('.invalid')) throw dnsNotFound(host);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    await createTenant(t);
    const hang = await receiver('hang');
    const closed = await receiver();
    await closed.close();
    await createEndpoint(t, 'acme', { url: hang.url, description: 'timeout' });
    await createEndpoint(t, 'acme', { url: closed.url, description: 'refused' });
    await createEndpoint(t, 'acme', { url: 'http://no-such-host.invalid/hook', description: 'dns' });
    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    const endpoints = (await t.call('GET', '/v1/tenants/acme/endpoints')).body.data as any[];
    const kindOf = async (description: string) => {
      const ep = endpoints.find((e) => e.description === description);
      const [d] = await deliveriesOf(t, `?endpoint_id=${ep.id}`);
      expect(d.status).toBe('retrying');
      return (await detail(t, d.id)).attempts[0];
    };
    expect(await kindOf('timeout')).toMatchObject({ error_kind: 'timeout', response_status: null });
    expect(await kindOf('refused')).toMatchObject({ error_kind: 'connection' });
    expect(await kindOf('dns')).toMatchObject({ error_kind: 'dns' });
    expect((await kindOf('timeout')).duration_ms).toBeGreaterThanOrEqual(250);
  });

  it('does not follow redirects: a 302 is a failed attempt and the target sees nothing', async () => {
    const t = await herald();
    await createTenant(t);
    const target = await receiver();
    const redirector = await receiver({ status: 302, headers: { location: `${target.url}/elsewhere` } });
    await createEndpoint(t, 'acme', { url: redirector.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    expect(target.requests).toHaveLength(0);
    const [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'retrying', last_status_code: 302 });
  });

  it('a disabled endpoint gets nothing; enabling it resumes its parked deliveries', async () => {
    const t = await herald();
    await createTenant(t);
    const r = await receiver();
    const ep = await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'before.disable', data: {} });
    await t.call('PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { status: 'disabled' });
    const after = await publish(t, 'acme', { type: 'after.disable', data: {} });
    expect(after.deliveries).toBe(0);
    await t.herald.worker.runOnce();
    expect(r.requests).toHaveLength(0);
    expect((await deliveriesOf(t))[0]).toMatchObject({ status: 'pending', next_attempt_at: null });
    await t.call('PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { status: 'enabled' });
    await t.herald.worker.runOnce();
    expect(r.requests).toHaveLength(1);
    expect(JSON.parse(r.requests[0]!.body).type).toBe('before.disable');
  });

  it('an idempotency key returns the same event and creates no second fan-out', async () => {
    const t = await herald();
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url });
    const first = await t.call('POST', '/v1/tenants/acme/events', { type: 'order.placed', data: { n: 1 }, idempotency_key: 'order-1' });
    const second = await t.call('POST', '/v1/tenants/acme/events', { type: 'order.placed', data: { n: 1 }, idempotency_key: 'order-1' });
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    await t.herald.worker.runOnce();
    expect(r.requests).toHaveLength(1);
    expect(await deliveriesOf(t)).toHaveLength(1);
    expect((await t.call('GET', '/v1/tenants/acme/events')).body.data).toHaveLength(1);
  });

  it('the test route sends a test event to that endpoint only', async () => {
    const t = await herald();
    await createTenant(t);
    const [a, b] = [await receiver(), await receiver()];
    const ep = await createEndpoint(t, 'acme', { url: a.url });
    await createEndpoint(t, 'acme', { url: b.url });
    const res = await t.call('POST', `/v1/tenants/acme/endpoints/${ep.id}/test`);
    expect(res.status).toBe(202);
    await t.herald.worker.runOnce();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    expect(JSON.parse(a.requests[0]!.body)).toMatchObject({ type: 'webhook.test', data: { endpoint_id: ep.id } });
    expect((await t.call('GET', `/v1/tenants/acme/events/${res.body.event_id}`)).body.environment).toBe('test');
  });

  it('custom endpoint headers are sent but cannot replace the signature headers', async () => {
    const t = await herald();
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url, headers: { 'X-Tenant-Token': 'abc' } });
    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    expect(r.requests[0]!.headers['x-tenant-token']).toBe('abc');
  });

  it('a private address is blocked at send time when private networks are not allowed, and not retried', async () => {
    const r = await receiver();
    const dials: string[] = [];
    const t = await herald({
      config: { allowPrivateNetworks: false },
      resolver: async () => [{ address: '127.0.0.1', family: 4 }],
      onDial: (_h, address) => dials.push(address),
    });
    await createTenant(t);
    // The name looks public; DNS (injected) says loopback.
    await createEndpoint(t, 'acme', { url: `http://hooks.example.com:${r.port}/x` });
    await publish(t, 'acme', { type: 'ping', data: {} });
    await t.herald.worker.runOnce();
    expect(r.requests).toHaveLength(0);
    expect(dials).toEqual([]);
    const [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'failed', last_error_kind: 'blocked' });
  });

  it('restarting with pending deliveries loses none', async () => {
    const r = await receiver();
    const first = await herald();
    await createTenant(first);
    await createEndpoint(first, 'acme', { url: r.url });
    for (let i = 0; i < 20; i++) await publish(first, 'acme', { type: 'ping', data: { i } });
    await first.stop(); // nothing was attempted yet
    const second = await herald({ dir: first.dir, startWorker: true });
    await r.waitFor(20);
    const seen = r.requests.map((q) => JSON.parse(q.body).data.i).sort((x: number, y: number) => x - y);
    expect(seen).toEqual([...Array(20).keys()]);
    expect((await second.call('GET', '/ready', undefined, null)).body).toMatchObject({ store: true, worker: true });
  });

  it('a delivery whose worker died mid-attempt is taken again when its lease expires', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, worker: { leaseMs: 60_000 } });
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    // Another (dead) worker claimed it and never reported back.
    const claimed = await t.herald.store.queue.claim('dead-worker', clock.now(), clock.now() + 60_000, 10);
    expect(claimed).toHaveLength(1);
    expect(await t.herald.worker.runOnce()).toBe(0);
    clock.advance(60_000);
    expect(await t.herald.worker.runOnce()).toBe(1);
    expect(r.requests).toHaveLength(1);
    // The dead worker's late result cannot overwrite the new one.
    await t.herald.store.queue.complete('dead-worker', [{
      deliveryId: claimed[0]!.id, status: 'failed', attemptNumber: 1, nextAttemptAt: null, throttledCount: 0, signal: { kind: 'failure' },
      attempt: { id: 'atm_late', deliveryId: claimed[0]!.id, tenantId: 'acme', endpointId: claimed[0]!.endpointId, attemptNumber: 1, startedAt: clock.now(), durationMs: 1, url: r.url, requestHeaders: {}, responseStatus: 500, responseBody: null, errorKind: 'http', errorMessage: null },
    }], { policy: DEFAULTS }, clock.now());
    expect((await deliveriesOf(t))[0].status).toBe('delivered');
    // Nor does it count against the endpoint's health.
    expect((await t.call('GET', `/v1/tenants/acme/endpoints/${claimed[0]!.endpointId}`)).body.health.consecutive_failures).toBe(0);
  });
});

describe('claim buffer', () => {
  it('hands back a claimed delivery that waited half its lease instead of sending it late', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, worker: { leaseMs: 60_000, concurrency: 1 } });
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    const worker = t.herald.worker as unknown as { claim(n: number): Promise<number>; dispatchReady(): number; readyCount(): number };
    expect(await worker.claim(10)).toBe(1);
    clock.advance(30_001);
    expect(worker.dispatchReady()).toBe(0);
    expect(worker.readyCount()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.requests).toHaveLength(0);
    expect((await deliveriesOf(t))[0]).toMatchObject({ status: 'pending' });
    expect(await t.herald.worker.runOnce()).toBe(1);
    expect(r.requests).toHaveLength(1);
  });
});

describe('wake-ups', () => {
  it('a nudge that arrives while the loop is awake is remembered by its next sleep', async () => {
    const t = await herald();
    const worker = t.herald.worker as unknown as { nudge(): void; sleep(ms: number): Promise<void> };
    worker.nudge(); // nobody is sleeping: e.g. the loop is mid-claim when a publish commits
    const started = Date.now();
    await worker.sleep(60_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('with a 60 s poll, every publish still reaches a running worker at once', async () => {
    const t = await herald({ startWorker: true, worker: { pollIntervalMs: 60_000 } });
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url });
    for (let i = 0; i < 5; i++) {
      await publish(t, 'acme', { type: 'ping', data: { i } });
      await r.waitFor(i + 1, 5_000);
    }
    expect(r.requests).toHaveLength(5);
  });
});

// Only PostgreSQL announces new work to other processes (LISTEN/NOTIFY); the SQLite run has no such test.
if (TEST_STORE === 'postgres') describe('wake-ups across processes (PostgreSQL NOTIFY)', () => {
  it('a publish in an API-only process wakes a worker in another at once, even with a 60 s poll', async () => {
    const api = await herald(); // no worker in this one
    const worker = await startHerald({ dir: api.dir, startWorker: true, worker: { pollIntervalMs: 60_000 } });
    open.push(worker);
    await createTenant(api);
    const r = await receiver();
    await createEndpoint(api, 'acme', { url: r.url });
    for (let i = 0; i < 3; i++) {
      await new Promise((ok) => setTimeout(ok, 200)); // the worker is asleep, waiting for its poll
      await publish(api, 'acme', { type: 'ping', data: { i } });
      await r.waitFor(i + 1, 3_000);
    }
    expect(r.requests).toHaveLength(3);
  });
});

describe('publish hand-off', () => {
  /** Ids of the deliveries the worker claimed from the queue (as opposed to being handed them by a publish). */
  const claimedIds = (t: TestHerald): string[] => {
    const ids: string[] = [];
    const queue = t.herald.store.queue;
    const claim = queue.claim.bind(queue);
    queue.claim = async (...args) => {
      const rows = await claim(...args);
      ids.push(...rows.map((r) => r.id));
      return rows;
    };
    return ids;
  };

  it('a delivery whose endpoint has a free slot is written leased to the worker and sent without a claim', async () => {
    const t = await herald({ startWorker: true });
    const claimed = claimedIds(t);
    await createTenant(t);
    const r = await receiver({ status: 200, delayMs: 300 });
    await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'ping', data: {} });
    // Committed as already claimed: no other worker can take it, and its lease covers a crash.
    const [d] = await deliveriesOf(t);
    expect(d).toMatchObject({ status: 'delivering', attempt_count: 0 });
    const row = await t.herald.store.db.selectFrom('deliveries').select(['lease_owner', 'next_attempt_at']).where('id', '=', d.id).executeTakeFirstOrThrow();
    expect(row.lease_owner).toBe(t.herald.worker.id);
    expect(Number(row.next_attempt_at)).toBeGreaterThan(Date.now());
    await r.waitFor(1);
    await waitUntil(async () => (await deliveriesOf(t))[0].status === 'delivered');
    expect(claimed).not.toContain(d.id);
    expect(r.requests).toHaveLength(1);
  });

  it('only what can start at once is handed off: the rest is queued, and claimed at once even with a 60 s poll', async () => {
    const t = await herald({ startWorker: true, worker: { pollIntervalMs: 60_000 } });
    const claimed = claimedIds(t);
    await createTenant(t);
    const r = await receiver({ status: 200, delayMs: 100 });
    await createEndpoint(t, 'acme', { url: r.url, max_in_flight: 1 });
    const res = await t.call('POST', '/v1/tenants/acme/events/batch', { events: [0, 1, 2].map((i) => ({ type: 'ping', data: { i } })) });
    expect(res.status).toBe(202);
    await r.waitFor(3);
    await waitUntil(async () => (await deliveriesOf(t)).every((d) => d.status === 'delivered'));
    const byEvent = new Map((await deliveriesOf(t)).map((d: any) => [d.event_id, d.id]));
    const [first, ...rest] = res.body.data.map((e: any) => byEvent.get(e.id));
    expect(claimed).not.toContain(first);
    expect([...claimed].sort()).toEqual([...rest].sort());
    expect(r.requests).toHaveLength(3);
  });

  it('a publish that writes nothing (an idempotency key seen before) gives back the slot it was offered', async () => {
    const t = await herald({ startWorker: true });
    const claimed = claimedIds(t);
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url, max_in_flight: 1 });
    await publish(t, 'acme', { type: 'ping', data: {}, idempotency_key: 'once' });
    await r.waitFor(1);
    await waitUntil(async () => (await deliveriesOf(t))[0].status === 'delivered');
    for (let i = 0; i < 3; i++) await publish(t, 'acme', { type: 'ping', data: {}, idempotency_key: 'once' });
    // Were a slot still promised to those, the endpoint's only slot would look taken and this would be queued.
    const fresh = await publish(t, 'acme', { type: 'ping', data: {} });
    await r.waitFor(2);
    const d = (await deliveriesOf(t)).find((x: any) => x.event_id === fresh.id);
    await waitUntil(async () => (await detail(t, d.id)).status === 'delivered');
    expect(claimed).toEqual([]);
    expect(r.requests).toHaveLength(2);
  });
});

describe('group commit', () => {
  const publishAll = (t: TestHerald, types: string[]) =>
    Promise.all(types.map((type, i) => t.call('POST', '/v1/tenants/acme/events', { type, data: { i } })));

  it('concurrent publishes share transactions, and each answers 202 only with its own event committed', async () => {
    const t = await herald();
    await createTenant(t);
    const r = await receiver();
    for (let i = 0; i < 2; i++) await createEndpoint(t, 'acme', { url: `${r.url}/${i}` });
    const events = t.herald.store.events;
    const insertIn = events.insertIn.bind(events);
    const transactions: number[] = [];
    events.insertIn = async (trx, items, now) => {
      transactions.push(items.length);
      return insertIn(trx, items, now);
    };
    const answers = await publishAll(t, Array(20).fill('ping'));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(20);
    expect(transactions.length).toBeLessThan(20);
    expect(transactions.reduce((a, b) => a + b, 0)).toBe(20);
    for (const a of answers) {
      expect(a.body.deliveries).toBe(2);
      expect((await deliveriesOf(t, `?event_id=${a.body.id}`)).length).toBe(2);
    }
  });

  it('a write that fails is retried alone, so only its own publish fails', async () => {
    const t = await herald();
    await createTenant(t);
    await createEndpoint(t, 'acme', { url: 'http://127.0.0.1:9/' });
    const events = t.herald.store.events;
    const insertIn = events.insertIn.bind(events);
    events.insertIn = async (trx, items, now) => {
      if (items.some((i) => i.event.type === 'poison')) throw new Error('constraint violated');
      return insertIn(trx, items, now);
    };
    const answers = await publishAll(t, ['a', 'b', 'poison', 'c']);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 500, 202]);
    const written = (await t.call('GET', '/v1/tenants/acme/events')).body.data.map((e: any) => e.type).sort();
    expect(written).toEqual(['a', 'b', 'c']);
  });
});

describe('result batching', () => {
  it('results of attempts finishing close together are written in one transaction, within the delay', async () => {
    const t = await herald({ startWorker: true, worker: { completionDelayMs: 300 } });
    const queue = t.herald.store.queue;
    const complete = queue.complete.bind(queue);
    const batches: number[] = [];
    queue.complete = async (owner, completions, ...rest) => {
      batches.push(completions.length);
      return complete(owner, completions, ...rest);
    };
    await createTenant(t);
    const r = await receiver();
    for (let i = 0; i < 3; i++) await createEndpoint(t, 'acme', { url: `${r.url}/${i}` });
    const res = await t.call('POST', '/v1/tenants/acme/events/batch', { events: [0, 1].map((i) => ({ type: 'ping', data: { i } })) });
    expect(res.status).toBe(202);
    await r.waitFor(6);
    expect(batches).toEqual([]); // still within the delay: the receivers have their webhooks, the log waits
    for (let i = 0; i < 100 && batches.length === 0; i++) await new Promise((ok) => setTimeout(ok, 20));
    expect(batches).toEqual([6]);
    await waitUntil(async () => (await deliveriesOf(t)).every((d) => d.status === 'delivered'));
  });

  it("a FIFO endpoint's result is written at once: its next delivery waits for it", async () => {
    const t = await herald({ startWorker: true, worker: { completionDelayMs: 60_000 } });
    await createTenant(t);
    const r = await receiver();
    await createEndpoint(t, 'acme', { url: r.url, fifo: true });
    for (let i = 0; i < 3; i++) await publish(t, 'acme', { type: 'ping', data: { i } });
    await r.waitFor(3, 5_000);
    expect(r.requests.map((q) => JSON.parse(q.body).data.i)).toEqual([0, 1, 2]);
  });
});

describe('claims handed back', () => {
  it('a worker that finds the endpoint disabled parks each delivery with the status it had before the claim', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, worker: { random: () => 0.5 } });
    await createTenant(t);
    const r = await receiver();
    r.replies.push(500);
    const ep = await createEndpoint(t, 'acme', { url: r.url });
    await publish(t, 'acme', { type: 'tried', data: {} });
    await t.herald.worker.runOnce();
    await publish(t, 'acme', { type: 'fresh', data: {} });
    // Disabled behind the API's back (as if between another worker's claim and its send): the queue still holds both as due.
    await t.herald.store.db.updateTable('endpoints').set({ status: 'disabled' }).where('id', '=', ep.id).execute();
    clock.advance(5_000);
    expect(await t.herald.worker.runOnce()).toBe(2);
    expect(r.requests).toHaveLength(1);
    const byType = Object.fromEntries((await deliveriesOf(t)).map((d: any) => [d.event_type, d]));
    expect(byType.tried).toMatchObject({ status: 'retrying', attempt_count: 1, next_attempt_at: null });
    expect(byType.fresh).toMatchObject({ status: 'pending', attempt_count: 0, next_attempt_at: null });
  });
});
