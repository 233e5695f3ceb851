import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pg from 'pg';
import { afterEach } from 'vitest';
import { pino } from 'pino';
import { PG_URL, TEST_SCHEMA_PREFIX } from './pg-setup.js';
import { Herald, type HeraldOptions } from '../src/herald.js';
import { loadConfig, type Config } from '../src/config/index.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

/** Which store this run of the suite uses: the vitest project sets it (sqlite or postgres). */
export const TEST_STORE = process.env.HERALD_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** The store URL for a test whose files live in `dir`: a SQLite file there, or a PostgreSQL schema named after it. */
export function storeUrlFor(dir: string): string {
  if (TEST_STORE === 'sqlite') return `sqlite:${join(dir, 'herald.db')}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', TEST_SCHEMA_PREFIX + basename(dir).replace(/[^a-z0-9]/gi, '_').toLowerCase());
  return url.toString();
}

async function dropSchemaOf(dbUrl: string): Promise<void> {
  const schema = new URL(dbUrl).searchParams.get('schema');
  if (!schema?.startsWith(TEST_SCHEMA_PREFIX)) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver answers: a status (with optional headers/body), or 'hang' to never answer. */
export type Reply = number | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Replies used in order for the next requests; after they run out, `fallback` is used. */
  replies: Reply[];
  fallback: Reply;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Closes every open connection (kept-alive ones too), so the sender's next request must connect anew. */
  dropConnections(): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every request. */
export async function startReceiver(fallback: Reply = 200): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: (() => void)[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      for (const w of waiters.splice(0)) w();
      const reply = receiver.replies.shift() ?? receiver.fallback;
      if (reply === 'hang') {
        hanging.add(res);
        return;
      }
      const r = typeof reply === 'number' ? { status: reply } : reply;
      const answer = () => res.writeHead(r.status, r.headers).end(r.body ?? 'ok');
      if (r.delayMs) setTimeout(answer, r.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    replies: [],
    fallback,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`receiver got ${requests.length} requests, expected ${count}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return requests;
    },
    dropConnections() {
      server.closeAllConnections();
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

export interface TestHerald {
  herald: Herald;
  dir: string;
  dbUrl: string;
  /** Stops Herald but keeps its files (to start another on them); `close` still removes them. */
  stop(): Promise<void>;
  /** Calls the API in-process; `key` defaults to the admin key, null sends none. */
  call(method: string, url: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export function testConfig(dbUrl: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({ env: {}, overrides: { databaseUrl: dbUrl, adminKey: ADMIN_KEY, allowPrivateNetworks: true, port: 0, logLevel: 'silent', ...overrides } });
}

/**
 * A Herald on its own store (SQLite file or PostgreSQL schema). By default the worker loop is not started: tests drive it with
 * `herald.worker.runOnce()` at the clock's current time, so multi-hour schedules need no sleeping.
 */
export async function startHerald(opts: Omit<Partial<HeraldOptions>, 'config'> & { config?: Partial<Config>; dir?: string } = {}): Promise<TestHerald> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'herald-test-'));
  const dbUrl = storeUrlFor(dir);
  const removeOwnFiles = async () => {
    if (opts.dir) return;
    rmSync(dir, { recursive: true, force: true });
    if (TEST_STORE === 'postgres') await dropSchemaOf(dbUrl);
  };
  let herald: Herald;
  try {
    herald = await Herald.create({
      startWorker: false,
      logger: pino({ level: 'silent' }),
      ...opts,
      config: testConfig(dbUrl, opts.config),
    });
  } catch (err) {
    await removeOwnFiles(); // tests that expect start-up to fail leave nothing behind either
    throw err;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await herald.close();
  };
  return {
    herald,
    dir,
    dbUrl,
    async call(method, url, body, key = ADMIN_KEY) {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      const res = await herald.app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
    },
    stop,
    async close() {
      await stop();
      await removeOwnFiles();
    },
  };
}

/** Creates a tenant and returns its id. */
export async function createTenant(t: TestHerald, id = 'acme'): Promise<string> {
  const res = await t.call('POST', '/v1/tenants', { id, name: `Tenant ${id}` });
  if (res.status !== 201) throw new Error(`tenant create failed: ${JSON.stringify(res.body)}`);
  return id;
}

export async function createEndpoint(t: TestHerald, tenant: string, body: Record<string, unknown>): Promise<any> {
  const res = await t.call('POST', `/v1/tenants/${tenant}/endpoints`, body);
  if (res.status !== 201) throw new Error(`endpoint create failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function publish(t: TestHerald, tenant: string, body: Record<string, unknown>): Promise<any> {
  const res = await t.call('POST', `/v1/tenants/${tenant}/events`, body);
  if (res.status !== 202) throw new Error(`publish failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Herald instances and receivers that the calling test file's tests start, closed after each test
 * (last opened, first closed). `open` takes anything else with a `close()`.
 */
export function closedAfterEach() {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  return {
    open,
    async herald(opts: Parameters<typeof startHerald>[0] = {}): Promise<TestHerald> {
      const t = await startHerald(opts);
      open.push(t);
      return t;
    },
    async receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
      const r = await startReceiver(...args);
      open.push(r);
      return r;
    },
  };
}
