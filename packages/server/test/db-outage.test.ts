import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers.js';
import { startCluster, withSchema, type PgCluster } from './pg-cluster.js';
import { adminCall, countingReceiver, serve, type Served } from './processes.js';

// PostgreSQL goes away under publish and delivery load and comes back: real `herald serve`
// processes on a cluster this file owns (stopping the shared server would disturb other files).
// A real stop and start, not a proxy: the processes see what a restart or a failover shows them
// (57P01 on every session, refused connections, 57P03 while it starts).

const OUTAGE_MS = 3000;
const ENDPOINTS = 2;
const CONCURRENCY = 32;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: PgCluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
});

interface Call {
  status: number | 'hang' | 'error';
  ms: number;
  body?: any;
  retryAfter?: string | null;
}

/** One API call with a bound on how long it may take: a hang is a failure, not a wait. */
async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` }): Promise<Call> {
  const started = Date.now();
  try {
    const res = await fetch(url + path, {
      method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, ms: Date.now() - started, body: text ? JSON.parse(text) : null, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    return { status: (err as Error).name === 'TimeoutError' ? 'hang' : 'error', ms: Date.now() - started };
  }
}

const count = (text: string, msg: string) => text.split('\n').filter((l) => l.includes(`"msg":"${msg}`)).length;

async function outageUnderLoad(layout: 'api+worker' | 'all', mode: 'fast' | 'immediate') {
  const receiver = await countingReceiver(100);
  const env = { DATABASE_URL: withSchema(cluster.url, `outage_${layout.replace('+', '_')}`), HERALD_LEASE_MS: '10000', HERALD_WORKER_CONCURRENCY: String(CONCURRENCY) };
  const procs: Served[] = layout === 'all' ? [await serve('all', env)] : await Promise.all([serve('api', env), serve('worker', env)]);
  const api = procs[0]!.url!;
  await adminCall(api, 'POST', '/v1/tenants', { id: 'out', name: 'Outage' });
  for (let i = 0; i < ENDPOINTS; i++) await adminCall(api, 'POST', '/v1/tenants/out/endpoints', { url: `${receiver.url}/${i}` });

  // Publisher: batches of 4 events every ~50 ms; a refused batch is sent again (same idempotency
  // keys) until it is accepted, as a careful client would.
  let publishing = true;
  let accepted = 0;
  const refusals: Call[] = [];
  const unexpected: Call[] = [];
  const publisher = (async () => {
    for (let b = 0; publishing && b < 400; b++) {
      const events = Array.from({ length: 4 }, (_, i) => ({ type: 'outage.test', data: { n: b * 4 + i }, idempotency_key: `k${b}-${i}` }));
      for (let tries = 0; tries < 200; tries++) {
        const r = await call(api, 'POST', '/v1/tenants/out/events/batch', { events });
        if (r.status === 202) {
          accepted += events.length;
          break;
        }
        if (r.status === 503) refusals.push(r);
        else unexpected.push(r);
        await sleep(100);
      }
      await sleep(50);
    }
  })();
  // Readiness, every 100 ms.
  const readiness: { at: number; status: Call['status']; reason?: string }[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const r = await call(api, 'GET', '/ready', undefined, {});
      readiness.push({ at: Date.now(), status: r.status, reason: r.body?.reason });
      await sleep(100);
    }
  })();

  // Cut once deliveries are flowing (on a busy machine the first ones can take a while).
  for (let waited = 0; receiver.stats().unique < 20 && waited < 20_000; waited += 50) await sleep(50);
  const deliveredBefore = receiver.stats().unique;
  expect(deliveredBefore).toBeGreaterThanOrEqual(20);
  await cluster.stop(mode);
  await sleep(500);
  // Every surface answers 503 with Retry-After in its own error shape, at once: a management
  // write, a read, the Lily and the Screenshot routes (their keys are checked in the database).
  const during = {
    write: await call(api, 'POST', '/v1/tenants/out/endpoints', { url: `${receiver.url}/late` }),
    read: await call(api, 'GET', '/v1/tenants/out/events'),
    lily: await call(api, 'GET', '/api/webhooks', undefined, { authorization: 'Bearer sk_live_whatever' }),
    screenshot: await call(api, 'GET', '/api/v1/webhooks', undefined, { 'x-api-key': 'sk_live_whatever' }),
  };
  await sleep(OUTAGE_MS - 500 - Math.min(500, Object.values(during).reduce((n, c) => n + c.ms, 0)));
  await cluster.start();
  const back = Date.now();
  while (!readiness.some((r) => r.at > back && r.status === 200) && Date.now() - back < 15_000) await sleep(20);
  const readyAt = readiness.find((r) => r.at > back && r.status === 200)?.at;
  await sleep(1000);
  publishing = false;
  await publisher;
  watching = false;
  await watcher;

  const result = await receiver.waitForUnique(accepted * ENDPOINTS, 30_000);
  const firstDelivery = receiver.arrivals.find((t) => t > back);
  const out = procs.map((p) => p.output());
  const held = out.map((o) => /"held":(\d+)/.exec(o)?.[1]).find((n) => n !== undefined);
  console.log(`database outage (${layout}, pg_ctl stop -m ${mode}, ${OUTAGE_MS} ms): /ready 200 ${readyAt! - back} ms and first delivery ${firstDelivery! - back} ms after the database was back; ` +
    `${refusals.length} publishes refused with 503 (slowest ${Math.max(...refusals.map((r) => r.ms))} ms); ${accepted} events accepted, ${deliveredBefore} deliveries before the outage, ` +
    `${result.unique} delivered, ${result.duplicates} duplicates; ${held ?? 0} results held in memory and written after`);

  // Every process rode it out.
  for (const p of procs) expect(p.proc.exitCode === null && p.proc.signalCode === null, p.output().slice(-3000)).toBe(true);
  // Readiness went 503, saying why, and came back by itself.
  const down = readiness.filter((r) => r.status === 503);
  expect(down.length).toBeGreaterThan(0);
  expect(down[0]!.reason).toMatch(/database unavailable/);
  expect(readyAt).toBeDefined();
  // Publishes in the outage were refused with 503 and Retry-After, quickly; never a 500 or a hang.
  expect(unexpected).toEqual([]);
  expect(refusals.length).toBeGreaterThan(0);
  for (const r of refusals) {
    expect(r.body.error.code).toBe('unavailable');
    expect(r.retryAfter).toBe('2');
    expect(r.ms).toBeLessThan(6000);
  }
  for (const r of [during.write, during.read, during.lily]) {
    expect(r).toMatchObject({ status: 503, retryAfter: '2', body: { error: { code: 'unavailable' } } });
  }
  expect(during.screenshot).toMatchObject({ status: 503, retryAfter: '2', body: { error: 'UNAVAILABLE' } });
  // Every accepted event reached every endpoint; duplicates only from what was in flight.
  expect(result.unique).toBe(accepted * ENDPOINTS);
  expect(result.duplicates).toBeLessThanOrEqual(CONCURRENCY);
  // The outage is logged once per process (at warn), and its end once.
  for (const o of out) {
    expect(count(o, 'database unavailable')).toBe(1);
    expect(count(o, 'database available again')).toBe(1);
    expect(o).not.toMatch(/"level":50/); // no error-level lines
  }
  // The worker kept the results of the attempts in flight and wrote them when the database was back.
  expect(Number(held)).toBeGreaterThan(0);
}

describe('PostgreSQL outage under load', () => {
  it('api and worker processes (--role api, --role worker) ride out a restart (stop -m fast)', () => outageUnderLoad('api+worker', 'fast'), 90_000);
  it('one process with both roles rides out a crash (stop -m immediate)', () => outageUnderLoad('all', 'immediate'), 90_000);
});
