import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterEach } from 'vitest';
import { ADMIN_KEY, TEST_STORE } from './helpers.js';
import { PG_URL, TEST_SCHEMA_PREFIX } from './pg-setup.js';

// Herald as real processes (`herald serve`) against a real store, and a receiver that counts
// what arrives. Every process and server is torn down after each test.
const BIN = resolve(__dirname, '../dist/bin/herald.js');
const procs: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const c of closers.splice(0).reverse()) await c();
});

/** A fresh PostgreSQL schema, dropped after the test. */
export function pgDatabase(): { url: string; schema: string } {
  const schema = `${TEST_SCHEMA_PREFIX}proc_${randomBytes(4).toString('hex')}`;
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

/** A fresh store of the kind this test project runs on: a SQLite file or a PostgreSQL schema. */
export function testDatabase(): string {
  if (TEST_STORE === 'postgres') return pgDatabase().url;
  const dir = mkdtempSync(join(tmpdir(), 'herald-proc-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, 'herald.db')}`;
}

export interface Served {
  proc: ChildProcess;
  /** The API's base URL (not for `--role worker`). */
  url?: string;
  /** Everything it has written to stdout and stderr so far (its JSON log lines; the last MB). */
  output(): string;
}

/** Starts `herald serve --role …`; resolves once it reports it is running (with its URL when it serves the API). */
export function serve(role: 'all' | 'api' | 'worker', env: Record<string, string>, args: string[] = []): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--role', role, ...args], {
    env: { ...process.env, PORT: '0', HERALD_ADMIN_KEY: ADMIN_KEY, HERALD_ALLOW_PRIVATE_NETWORKS: 'true', HERALD_LOG_LEVEL: 'info', HERALD_PG_POOL_SIZE: '4', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${out}`)), 20_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.length > 2_000_000) out = out.slice(-1_000_000);
      if (started) return;
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      if (url || (role === 'worker' && /Herald worker running/.test(out))) {
        started = true;
        clearTimeout(timer);
        resolvePromise({ proc, url, output: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${role} exited with ${code}:\n${out}`)));
  });
}

/** Kills a process with SIGKILL and waits until it is gone. */
export async function kill9(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await gone;
}

/** Calls a Herald API with the admin key; throws on a non-2xx answer. */
export async function adminCall(apiUrl: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(apiUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Counts each delivery (path + webhook-id) as it arrives; answers 200 after `delayMs`. */
export async function countingReceiver(delayMs = 0) {
  const seen = new Map<string, number>();
  /** When each request arrived (ms since the epoch), in order. */
  const arrivals: number[] = [];
  let waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = `${req.url} ${req.headers['webhook-id']}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      arrivals.push(Date.now());
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
    arrivals,
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

/** Runs `herald …` to its end (killed after `timeoutMs` if it does not stop by itself): exit code and output. */
export function runHerald(
  args: string[], env: Record<string, string>, opts: { uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const proc = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, PORT: '0', HERALD_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid,
    });
    procs.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    // A process that starts instead of refusing would run forever: stop it, the test then fails on the code.
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 45_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
