import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Herald } from '../src/herald.js';
import { openDatabase } from '../src/store/connect.js';
import { isUnavailable, Store } from '../src/store/index.js';
import { ADMIN_KEY, startReceiver, testConfig } from './helpers.js';
import { startCluster, withSchema, type PgCluster } from './pg-cluster.js';

// PostgreSQL faults one at a time: a restart while Herald is idle (the failure in issue 21: every
// process exited), a connection that stops answering, and a COMMIT whose answer is lost. On a
// cluster this file owns, so none of it disturbs another test file.

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


describe('PostgreSQL restarted while idle', () => {
  it('the listener comes back: a publish after the restart is delivered within a second, not at the next poll', async () => {
    const url = withSchema(cluster.url, 'idle_listen');
    const receiver = await startReceiver();
    // An API-only Herald and a worker-only one (each with its own pool), the worker polling only
    // once a minute: only a notification, or the wake-up the listener gives when it is back, can
    // bring a delivery quickly. (db-outage.test.ts runs them as separate processes.)
    const silent = pino({ level: 'silent' });
    const api = await Herald.create({ config: testConfig(url), startWorker: false, logger: silent });
    const worker = await Herald.create({ config: testConfig(url, { deliveryThreads: 0 }), startWorker: true, worker: { pollIntervalMs: 60_000 }, logger: silent });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await api.app.inject({ method: method as 'GET', url: path, headers: { authorization: `Bearer ${ADMIN_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) });
      if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
      return res;
    };
    try {
      await call('POST', '/v1/tenants', { id: 'idle', name: 'Idle' });
      await call('POST', '/v1/tenants/idle/endpoints', { url: receiver.url });
      const publish = async () => {
        const sent = Date.now();
        await call('POST', '/v1/tenants/idle/events', { type: 'idle.test', data: {} });
        const n = receiver.requests.length + 1;
        await receiver.waitFor(n, 5_000);
        return receiver.requests[n - 1]!.at - sent;
      };
      const before = await publish();
      await sleep(300);

      await cluster.stop('fast');
      await cluster.start();
      const readyMs = await until('the API to be ready', async () => (await api.app.inject({ method: 'GET', url: '/ready' })).statusCode === 200);
      await until('the worker to see the database back', () => worker.store.availability.isUp);
      // Past the wake-up the worker gives itself when the database is back: from here only the listener can wake it.
      await sleep(1000);
      const after = await publish();
      console.log(`idle restart: /ready 200 ${readyMs} ms after the database was back; delivery ${before} ms after publish before the restart, ${after} ms after it`);
      expect(after).toBeLessThan(1000);
    } finally {
      await worker.close();
      await api.close();
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

/**
 * A TCP proxy on 127.0.0.1 in front of the cluster that can fail as networks do. `freeze` turns it
 * into a black hole, as a failover can to connections to the old primary: bytes are swallowed and
 * nothing is ever answered, no reset either, and new connections are accepted and swallowed the
 * same way; `thaw` ends that for new connections (the swallowed ones stay dead).
 * `cutAfterNextCommit` lets the next COMMIT reach the server and, once the server has answered,
 * drops the client's connection without passing the answer on: a commit whose outcome the client
 * cannot know.
 */
async function faultProxy(target: number) {
  let frozen = false;
  let cutArmed = false;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    if (frozen) return client.on('data', () => {});
    const upstream = connectTcp(target, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => sockets.delete(upstream));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let cutting = false;
    client.on('data', (d) => {
      if (frozen) return;
      // Kysely sends COMMIT as a simple query: 'Q', length, "commit\0".
      if (cutArmed && d.includes('commit\u0000')) {
        cutArmed = false;
        cutting = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (frozen) return;
      if (cutting) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    cutAfterNextCommit: () => void (cutArmed = true),
    cuts: () => cuts,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The cluster's URL with `schema`, through `proxy`. */
const viaProxy = (proxy: { port: number }, schema: string) => {
  const url = new URL(withSchema(cluster.url, schema));
  url.port = String(proxy.port);
  return url.toString();
};

describe('PostgreSQL connections that fail mid-way', () => {
  it('a statement or a connection attempt into a black hole fails in bounded time as unavailable, and the pool recovers with new connections', async () => {
    const proxy = await faultProxy(Number(new URL(cluster.url).port));
    const store = await Store.open(viaProxy(proxy, 'black_hole'), { db: { connectTimeoutMs: 500 }, queryTimeoutMs: 500 });
    const timed = async () => {
      const started = Date.now();
      const err = await sql`SELECT 1`.execute(store.db).then(() => null, (e: unknown) => e);
      return { err, ms: Date.now() - started };
    };
    try {
      await sql`SELECT 1`.execute(store.db);
      proxy.freeze();
      // On the pooled connection: the statement timeout. Then a new connection: the connect timeout.
      for (const { err, ms } of [await timed(), await timed()]) {
        expect(isUnavailable(err), String(err)).toBe(true);
        expect(ms).toBeLessThan(3000);
      }
      expect(store.availability.isUp).toBe(false);
      proxy.thaw();
      await until('the store to see the database back', () => store.availability.isUp);
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 30_000);

  it('a publish whose COMMIT went unanswered is a 503; retried with its idempotency key it is the one event committed, neither lost nor doubled', async () => {
    const proxy = await faultProxy(Number(new URL(cluster.url).port));
    const herald = await Herald.create({ config: testConfig(viaProxy(proxy, 'commit_unknown')), startWorker: false, logger: pino({ level: 'silent' }) });
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await herald.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${ADMIN_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.json(), headers: res.headers };
    };
    try {
      expect((await call('POST', '/v1/tenants', { id: 'cu', name: 'Commit unknown' })).status).toBe(201);
      expect((await call('POST', '/v1/tenants/cu/endpoints', { url: 'http://127.0.0.1:9/' })).status).toBe(201);
      const event = { type: 'cu.test', data: { n: 1 }, idempotency_key: 'once' };
      proxy.cutAfterNextCommit();
      const first = await call('POST', '/v1/tenants/cu/events', event);
      expect(proxy.cuts()).toBe(1);
      // The server committed, the client cannot know: not a 202, not a 500, but "retry".
      expect(first).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } }, headers: { 'retry-after': '2' } });
      const again = await call('POST', '/v1/tenants/cu/events', event);
      expect(again.status).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      const events = await call('GET', '/v1/tenants/cu/events');
      expect(events.body.data.map((e: { id: string }) => e.id)).toEqual([again.body.id]);
    } finally {
      await herald.close();
      await proxy.close();
    }
  }, 30_000);

  it('a batch of results whose COMMIT went unanswered is written again when the database answers, changing nothing: one attempt row, one request, no error', async () => {
    const proxy = await faultProxy(Number(new URL(cluster.url).port));
    const receiver = await startReceiver({ status: 200, delayMs: 300 });
    const lines: string[] = [];
    const herald = await Herald.create({
      config: testConfig(viaProxy(proxy, 'results_unknown'), { deliveryThreads: 0 }), startWorker: true,
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
    });
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await herald.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${ADMIN_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.json() };
    };
    try {
      expect((await call('POST', '/v1/tenants', { id: 'ru', name: 'Results unknown' })).status).toBe(201);
      expect((await call('POST', '/v1/tenants/ru/endpoints', { url: receiver.url })).status).toBe(201);
      const { body: event } = await call('POST', '/v1/tenants/ru/events', { type: 'ru.test', data: {} });
      await receiver.waitFor(1);
      // The attempt is in flight (the receiver answers in 300 ms): the next COMMIT is its result's.
      proxy.cutAfterNextCommit();
      await until('the result to be written', async () => (await call('GET', `/v1/tenants/ru/deliveries?event_id=${event.id}`)).body.data[0]?.status === 'delivered');
      expect(proxy.cuts()).toBe(1);
      // Written once (the first COMMIT), then again after the outage it caused: nothing changed.
      await until('the held results to be written again', () => lines.some((l) => l.includes('wrote the delivery results held')));
      const delivery = (await call('GET', `/v1/tenants/ru/deliveries?event_id=${event.id}`)).body.data[0];
      const detail = await call('GET', `/v1/tenants/ru/deliveries/${delivery.id}`);
      expect(detail.body.attempts).toHaveLength(1);
      expect(receiver.requests).toHaveLength(1);
      expect(lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((m) => m.level >= 50)).toEqual([]);
    } finally {
      await herald.close();
      await receiver.close();
      await proxy.close();
    }
  }, 30_000);
});
