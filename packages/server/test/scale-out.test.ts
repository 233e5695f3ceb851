import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers.js';
import { PG_URL, TEST_SCHEMA_PREFIX } from './pg-setup.js';

// Several Herald processes on one PostgreSQL schema: one API process and N worker processes.
const BIN = resolve(__dirname, '../dist/bin/herald.js');
const procs: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const c of closers.splice(0).reverse()) await c();
});

function dbUrl(): { url: string; schema: string } {
  const schema = `${TEST_SCHEMA_PREFIX}scale_${randomBytes(4).toString('hex')}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  closers.push(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });
  return { url: url.toString(), schema };
}

/** Starts `herald serve --role …`; resolves once it reports it is running (with its URL for the API role). */
function serve(role: 'api' | 'worker', env: Record<string, string>): Promise<{ proc: ChildProcess; url?: string }> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--role', role], {
    env: { ...process.env, PORT: '0', HERALD_ADMIN_KEY: ADMIN_KEY, HERALD_ALLOW_PRIVATE_NETWORKS: 'true', HERALD_LOG_LEVEL: 'info', HERALD_PG_POOL_SIZE: '4', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${out}`)), 20_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      if (url || /Herald worker running/.test(out)) {
        clearTimeout(timer);
        proc.stdout!.removeAllListeners('data');
        proc.stdout!.resume();
        resolvePromise({ proc, url });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => reject(new Error(`${role} exited with ${code}:\n${out}`)));
  });
}

/** Counts each delivery (path + webhook-id) as it arrives; answers 200 after `delayMs`. */
async function countingReceiver(delayMs = 0) {
  const seen = new Map<string, number>();
  let waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = `${req.url} ${req.headers['webhook-id']}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      for (const w of waiters.splice(0)) w();
      if (delayMs) setTimeout(() => res.end('ok'), delayMs);
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const stats = () => {
    let duplicates = 0;
    for (const n of seen.values()) duplicates += n - 1;
    return { unique: seen.size, duplicates };
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    async waitForUnique(n: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (seen.size < n) {
        if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${n} deliveries arrived`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 200);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      waiters = [];
      return stats();
    },
  };
}

async function setUp(apiUrl: string, receiverUrl: string, endpoints: number) {
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(apiUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
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
    const { url } = dbUrl();
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
    const { url } = dbUrl();
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
