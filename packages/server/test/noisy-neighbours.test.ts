import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, createEndpoint, createTenant, publish, type Receiver, type TestHerald } from './helpers.js';

// One tenant's hanging, trickling or slow receivers against another tenant's healthy endpoint,
// with the real worker loop, on both stores (see core/capacity.ts for how slots are shared).

const { open, herald, receiver } = closedAfterEach();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes `n` events to the healthy tenant, `gapMs` apart; returns each one's publish→receive time. */
async function healthyLatencies(t: TestHerald, healthy: Receiver, n: number, gapMs: number): Promise<number[]> {
  const sentAt = new Map<string, number>();
  const before = healthy.requests.length;
  for (let i = 0; i < n; i++) {
    const at = Date.now();
    const { id } = await publish(t, 'healthy', { type: 'probe', data: { i } });
    sentAt.set(id, at);
    await sleep(gapMs);
  }
  const got = await healthy.waitFor(before + n, 20_000);
  return got.slice(before).map((r) => r.at - sentAt.get(String(r.headers['webhook-id']))!);
}

/** Servers that accept and never answer, counting the requests open on them at once. */
async function hangingServers(count: number): Promise<{ urls: string[]; open: () => number; peak: () => number }> {
  let now = 0;
  let peak = 0;
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const sockets = new Set<import('node:net').Socket>();
    const server = http.createServer((req) => {
      req.resume();
      peak = Math.max(peak, ++now);
      req.socket.once('close', () => now--);
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    open.push({
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
  }
  return { urls, open: () => now, peak: () => peak };
}

describe('noisy neighbours', () => {
  it('120 hanging endpoints (7× the worker\'s 16 active slots) do not delay another tenant: every healthy event arrives within a second', async () => {
    const t = await herald({ startWorker: true, config: { workerConcurrency: 16, workerMaxWaiting: 60, attemptTimeoutMs: 1_500 } });
    await createTenant(t, 'noisy');
    await createTenant(t, 'healthy');
    const healthy = await receiver(200);
    await createEndpoint(t, 'healthy', { url: healthy.url });
    // 120 endpoints on 12 origins (10 paths each), 10 deliveries each.
    const hang = await hangingServers(12);
    for (let i = 0; i < 120; i++) await createEndpoint(t, 'noisy', { url: `${hang.urls[i % 12]}/ep/${i}` });
    for (let i = 0; i < 10; i++) await publish(t, 'noisy', { type: 'noise', data: { i } });
    for (let i = 0; i < 50 && hang.open() < 40; i++) await sleep(50);
    const latencies = await healthyLatencies(t, healthy, 60, 50);
    const worst = Math.max(...latencies);
    console.log(`noisy neighbours: healthy worst ${worst} ms over ${latencies.length} events; hanging requests open at most ${hang.peak()}`);
    expect(worst).toBeLessThan(1_000);
    // The waiting slots bound the sockets: attempts beyond them stayed queued.
    expect(hang.peak()).toBeGreaterThanOrEqual(40);
    expect(hang.peak()).toBeLessThanOrEqual(60);
  }, 60_000);

  it('trickling receivers (200, then a byte every 50 ms) release their slots at timeout_ms and do not delay a healthy endpoint', async () => {
    const t = await herald({ startWorker: true, config: { workerConcurrency: 4 } });
    await createTenant(t, 'noisy');
    await createTenant(t, 'healthy');
    const healthy = await receiver(200);
    await createEndpoint(t, 'healthy', { url: healthy.url });
    const timers = new Set<NodeJS.Timeout>();
    const trickle = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200).flushHeaders();
      const timer = setInterval(() => res.write('z'), 50);
      timers.add(timer);
      res.once('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => trickle.listen(0, '127.0.0.1', resolve));
    open.push({
      close: async () => {
        for (const x of timers) clearInterval(x);
        trickle.closeAllConnections();
        await new Promise<void>((resolve) => trickle.close(() => resolve()));
      },
    });
    // The first healthy delivery starts the delivery thread: not what is measured here.
    await healthyLatencies(t, healthy, 1, 0);
    const url = `http://127.0.0.1:${(trickle.address() as AddressInfo).port}`;
    const eps = [];
    for (let i = 0; i < 6; i++) eps.push(await createEndpoint(t, 'noisy', { url: `${url}/t/${i}`, timeout_ms: 1_000 }));
    for (let i = 0; i < 5; i++) await publish(t, 'noisy', { type: 'noise', data: { i } });
    await sleep(300);
    const latencies = await healthyLatencies(t, healthy, 40, 50);
    console.log(`trickling neighbours: healthy latencies ${JSON.stringify(latencies)}`);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    // Each trickling attempt ended at its 1 s deadline: delivered (the 200 counts), body cut off.
    const deliveries = (await t.call('GET', `/v1/tenants/noisy/deliveries?endpoint_id=${eps[0].id}`)).body.data as any[];
    const done = deliveries.find((d) => d.status === 'delivered');
    expect(done).toBeDefined();
    const [attempt] = (await t.call('GET', `/v1/tenants/noisy/deliveries/${done.id}`)).body.attempts;
    expect(attempt).toMatchObject({ response_status: 200, error_kind: null });
    expect(attempt.error_message).toMatch(/body not finished within the timeout/);
    expect(attempt.duration_ms).toBeGreaterThanOrEqual(950);
    expect(attempt.duration_ms).toBeLessThan(1_500);
  }, 60_000);
});
