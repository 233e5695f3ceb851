import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adminCall, countingReceiver, pgDatabase, serve } from './processes.js';

// Several Herald processes on one PostgreSQL schema: one API process and N worker processes.
async function setUp(apiUrl: string, receiverUrl: string, endpoints: number) {
  const call = (method: string, path: string, body: unknown) => adminCall(apiUrl, method, path, body);
  await call('POST', '/v1/tenants', { id: 'scale', name: 'Scale' });
  for (let i = 0; i < endpoints; i++) await call('POST', '/v1/tenants/scale/endpoints', { url: `${receiverUrl}/${i}` });
  return async (events: number) => {
    for (let e = 0; e < events; e += 200) {
      const batch = Array.from({ length: Math.min(200, events - e) }, (_, i) => ({ type: 'load.test', data: { n: e + i } }));
      await call('POST', '/v1/tenants/scale/events/batch', { events: batch });
    }
  };
}

describe('scale-out on PostgreSQL', () => {
  it('4 worker processes deliver 10,000 deliveries, each exactly once', async () => {
    const { url } = pgDatabase();
    const receiver = await countingReceiver();
    // All five processes start (and migrate) at once: the migration lock makes that safe.
    const [api] = await Promise.all([
      serve('api', { DATABASE_URL: url }),
      ...Array.from({ length: 4 }, () => serve('worker', { DATABASE_URL: url, HERALD_WORKER_CONCURRENCY: '32' })),
    ]);
    const publish = await setUp(api!.url!, receiver.url, 5);
    await publish(2000);
    const result = await receiver.waitForUnique(10_000, 90_000);
    expect(result).toEqual({ unique: 10_000, duplicates: 0 });
    const c = new pg.Client({ connectionString: url.replace(/\?.*$/, '') , options: `-c search_path=${new URL(url).searchParams.get('schema')}` });
    await c.connect();
    // Results are written in batches just after the POSTs: wait for the last ones.
    let delivered = 0;
    for (let i = 0; i < 50 && delivered < 10_000; i++) {
      delivered = Number((await c.query("SELECT count(*) AS n FROM deliveries WHERE status = 'delivered'")).rows[0].n);
      if (delivered < 10_000) await new Promise((r) => setTimeout(r, 100));
    }
    const attempts = Number((await c.query('SELECT count(*) AS n FROM attempts')).rows[0].n);
    await c.end();
    expect(delivered).toBe(10_000);
    expect(attempts).toBe(10_000);
  }, 120_000);

  it('kill -9 of a worker mid-load loses nothing; duplicates stay within what it had claimed', async () => {
    const { url } = pgDatabase();
    const receiver = await countingReceiver(5);
    const concurrency = 16;
    const workerEnv = { DATABASE_URL: url, HERALD_WORKER_CONCURRENCY: String(concurrency), HERALD_LEASE_MS: '3000', HERALD_ATTEMPT_TIMEOUT_MS: '1000' };
    const [api, victim] = await Promise.all([serve('api', { DATABASE_URL: url }), serve('worker', workerEnv), serve('worker', workerEnv)]);
    const publish = await setUp(api!.url!, receiver.url, 5);
    await publish(1000);
    while (receiver.stats().unique < 1000) await new Promise((r) => setTimeout(r, 20));
    victim!.proc.kill('SIGKILL');
    const result = await receiver.waitForUnique(5000, 90_000);
    console.log(`kill -9 test: ${result.unique} delivered, ${result.duplicates} duplicates`);
    expect(result.unique).toBe(5000);
    // A killed worker can repeat at most what it held: attempts in flight plus its claim buffer.
    expect(result.duplicates).toBeLessThanOrEqual(concurrency + 2 * 100);
  }, 120_000);
});
