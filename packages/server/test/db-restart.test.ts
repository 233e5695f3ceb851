import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Herald } from '../src/herald.js';
import { openDatabase } from '../src/store/connect.js';
import { isUnavailable } from '../src/store/index.js';
import { startReceiver, testConfig } from './helpers.js';
import { startCluster, withSchema, type PgCluster } from './pg-cluster.js';
import { adminCall, serve } from './processes.js';

// PostgreSQL restarted while Herald is idle (the failure in issue 21: every process exited). On
// a cluster this file owns, so the restart disturbs no other test file.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let cluster: PgCluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
});

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (!(await ok())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
}

const ready = async (url: string) => (await fetch(`${url}/ready`).catch(() => null))?.status === 200;

describe('PostgreSQL restarted while idle', () => {
  it('the listener comes back: a publish after the restart is delivered within a second, not at the next poll', async () => {
    const url = withSchema(cluster.url, 'idle_listen');
    const receiver = await startReceiver();
    // The API in its own process; the worker in this one, polling only once a minute, so only a
    // notification (or the wake-up the listener gives when it is back) can bring a delivery quickly.
    const api = await serve('api', { DATABASE_URL: url });
    const worker = await Herald.create({ config: testConfig(url, { deliveryThreads: 0 }), startWorker: true, worker: { pollIntervalMs: 60_000 }, logger: pino({ level: 'silent' }) });
    try {
      await adminCall(api.url!, 'POST', '/v1/tenants', { id: 'idle', name: 'Idle' });
      await adminCall(api.url!, 'POST', '/v1/tenants/idle/endpoints', { url: receiver.url });
      const publish = async () => {
        const sent = Date.now();
        await adminCall(api.url!, 'POST', '/v1/tenants/idle/events', { type: 'idle.test', data: {} });
        const n = receiver.requests.length + 1;
        await receiver.waitFor(n, 5_000);
        return receiver.requests[n - 1]!.at - sent;
      };
      const before = await publish();
      await sleep(300);

      await cluster.stop('fast');
      await cluster.start();
      const back = Date.now();
      const readyMs = await until('the API process to be ready', () => ready(api.url!));
      await until('the worker to see the database back', () => worker.store.availability.isUp);
      // Past the wake-up the worker gives itself when the database is back: from here only the listener can wake it.
      await sleep(1000);
      const after = await publish();
      console.log(`idle restart: /ready 200 ${readyMs} ms after the database was back; delivery ${before} ms after publish before the restart, ${after} ms after it`);
      expect(after).toBeLessThan(1000);
      expect(api.proc.exitCode).toBeNull();
      expect(back).toBeGreaterThan(0);
    } finally {
      await worker.close();
      await receiver.close();
    }
  }, 60_000);

  it('prepared statements are prepared again on the new connections, and calls in between fail as unavailable', async () => {
    const handle = openDatabase(withSchema(cluster.url, 'idle_prep'));
    const { db } = handle;
    try {
      await sql`CREATE SCHEMA IF NOT EXISTS idle_prep`.execute(db);
      await sql`CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL)`.execute(db);
      await sql`INSERT INTO t VALUES (1, 10), (2, 20)`.execute(db);
      // In one transaction, so all of it runs on one connection: the statement is named the
      // second time it is sent and prepared on the server under that name.
      const run = () => db.transaction().execute(async (trx) => {
        const values = [];
        for (const id of [1, 2, 1]) values.push((await sql<{ v: number }>`SELECT v FROM t WHERE id = ${id}`.execute(trx)).rows[0]!.v);
        const prepared = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_prepared_statements`.execute(trx)).rows[0]!.n;
        return { values, prepared };
      });
      expect(await run()).toEqual({ values: [10, 20, 10], prepared: 1 });

      await cluster.stop('fast');
      // Without the database the call fails, as unavailable (and the process lives on).
      const failed = await sql`SELECT v FROM t WHERE id = ${1}`.execute(db).then(() => null, (err: unknown) => err);
      expect(isUnavailable(failed)).toBe(true);
      expect(handle.availability.isUp).toBe(false);
      await cluster.start();
      await until('the store to see the database back', () => handle.availability.isUp);
      // The pool's connections are new: the named statement is prepared again on the one used.
      expect(await run()).toEqual({ values: [10, 20, 10], prepared: 1 });
    } finally {
      handle.availability.close();
      await db.destroy();
    }
  }, 60_000);
});
