import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.js';
import { closedAfterEach, createEndpoint, createTenant, TEST_STORE } from './helpers.js';
import { PG_URL, TEST_SCHEMA_PREFIX } from './pg-setup.js';
import { runHerald } from './processes.js';

// Start-up refuses what would only fail later (every list, publish or write answering 500) with
// one line naming the variable to fix, and readiness says whether the store can be written.
// Real `herald serve` processes against real stores.

const { herald } = closedAfterEach();
const KEY = Buffer.alloc(32, 7).toString('base64');
const OTHER_KEY = Buffer.alloc(32, 8).toString('base64');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `herald serve` that must refuse to start: exit code 1, nothing on stdout (never listened), one line on stderr. */
async function refusedStart(env: Record<string, string>, opts: Parameters<typeof runHerald>[2] = {}): Promise<string> {
  const r = await runHerald(['serve'], env, opts);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  return r.stderr.trimEnd();
}

/** A store with one tenant and one endpoint (secret sealed with KEY), left on disk or in its schema. */
async function sealedStore(): Promise<{ dbUrl: string; read: () => Promise<string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-startup-'));
  const t = await herald({ dir, config: { encryptionKey: KEY } });
  await createTenant(t);
  const ep = await createEndpoint(t, 'acme', { url: 'https://hooks.example.com/x', headers: { Authorization: 'Bearer receiver-credential' } });
  await t.stop();
  cleanups.push(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (TEST_STORE === 'postgres') await dropSchema(new URL(t.dbUrl).searchParams.get('schema')!);
  });
  const read = async () => {
    const store = await Store.open(t.dbUrl, { migrate: false });
    try {
      return JSON.stringify(await store.db.selectFrom('endpoints').select(['secret', 'headers']).where('id', '=', ep.id).executeTakeFirstOrThrow());
    } finally {
      await store.close();
    }
  };
  return { dbUrl: t.dbUrl, read };
}

async function withPg<T>(fn: (c: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
const dropSchema = (schema: string) => withPg((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));

describe('HERALD_ENCRYPTION_KEY is checked at start', () => {
  it('a wrong key, or none, for a sealed store refuses to start with one line naming the variable, and changes nothing', async () => {
    const { dbUrl, read } = await sealedStore();
    const before = await read();
    const [wrong, missing] = await Promise.all([
      refusedStart({ DATABASE_URL: dbUrl, HERALD_ENCRYPTION_KEY: OTHER_KEY }),
      refusedStart({ DATABASE_URL: dbUrl }),
    ]);
    expect(wrong).toMatch(/^herald: HERALD_ENCRYPTION_KEY does not open the endpoint secrets sealed in this store/);
    expect(missing).toMatch(/^herald: HERALD_ENCRYPTION_KEY is not set, but this store holds endpoint secrets sealed with a key/);
    expect(wrong + missing).not.toContain(OTHER_KEY);
    expect(await read()).toBe(before);
  }, 120_000);
});

describe('database errors at start name DATABASE_URL and what to check', () => {
  it('a schema migrated by a newer Herald', async () => {
    const { dbUrl } = await sealedStore();
    const store = await Store.open(dbUrl, { migrate: false });
    await sql`INSERT INTO herald_migrations (name, timestamp) VALUES ('9999_from_the_future', ${new Date().toISOString()})`.execute(store.db);
    await store.close();
    const line = await refusedStart({ DATABASE_URL: dbUrl, HERALD_ENCRYPTION_KEY: KEY });
    expect(line).toMatch(/^herald: DATABASE_URL: the database was migrated by a newer Herald \(.* has 9999_from_the_future; this version knows up to \d{4}_\w+\)/);
    expect(line).not.toMatch(/corrupted/);
  }, 60_000);

  it.runIf(TEST_STORE === 'postgres')('PostgreSQL unreachable (a closed port on 127.0.0.1), or its database missing', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const missingDb = new URL(PG_URL);
    missingDb.pathname = `/herald_missing_${randomBytes(4).toString('hex')}`;
    const [unreachable, missing] = await Promise.all([
      refusedStart({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/test` }),
      refusedStart({ DATABASE_URL: missingDb.toString() }),
    ]);
    expect(unreachable).toMatch(new RegExp(`^herald: DATABASE_URL: cannot reach PostgreSQL \\(postgres 127\\.0\\.0\\.1:${closed}/test schema public\\): .*ECONNREFUSED.*Check the host and port`));
    expect(missing).toMatch(/^herald: DATABASE_URL: database "herald_missing_\w+" does not exist \(.*\)\. Create it/);
  }, 60_000);
});

describe('a store that cannot be written', () => {
  // Root writes through file modes: the refused process runs as `nobody` then.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

  it.runIf(TEST_STORE === 'sqlite')('a read-only SQLite file, or folder, refuses to start naming the path', async () => {
    const make = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-ro-'));
      cleanups.push(() => {
        chmodSync(dir, 0o755);
        rmSync(dir, { recursive: true, force: true });
      });
      const file = join(dir, 'herald.db');
      await (await Store.open(`sqlite:${file}`)).close();
      return { dir, file };
    };
    const roFile = await make();
    chmodSync(roFile.dir, 0o777);
    chmodSync(roFile.file, 0o444);
    const roDir = await make();
    if (asUser.uid !== undefined) chownSync(roDir.file, asUser.uid, asUser.gid!);
    chmodSync(roDir.file, 0o666);
    chmodSync(roDir.dir, 0o555);
    const [file, folder] = await Promise.all([
      refusedStart({ DATABASE_URL: `sqlite:${roFile.file}` }, asUser),
      refusedStart({ DATABASE_URL: `sqlite:${roDir.file}` }, asUser),
    ]);
    expect(file).toBe(`herald: DATABASE_URL: the SQLite database ${roFile.file} is read-only (the file is not writable). Make the file and its folder writable by this process (Herald writes the -wal and -shm files beside it)`);
    expect(folder).toMatch(`herald: DATABASE_URL: the SQLite database ${roDir.file} is read-only (its folder ${roDir.dir} is not writable)`);
  }, 60_000);

  it.runIf(TEST_STORE === 'postgres')('a read-only PostgreSQL database (standby, default_transaction_read_only) refuses to start', async () => {
    const name = `${TEST_SCHEMA_PREFIX}ro_${randomBytes(3).toString('hex')}`;
    await withPg((c) => c.query(`CREATE DATABASE "${name}"`));
    cleanups.push(() => withPg((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    await (await Store.open(url.toString())).close();
    await withPg((c) => c.query(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`));
    const line = await refusedStart({ DATABASE_URL: url.toString() });
    expect(line).toMatch(/^herald: DATABASE_URL: the database is read-only \(postgres 127\.0\.0\.1:5432\/herald_t_\w+ schema public\): cannot execute UPDATE in a read-only transaction\. Point it at the primary/);
  }, 60_000);

  it('/ready is 503 while the store refuses writes, and 200 again once it accepts them', async () => {
    // One connection, so the session setting below is the pool's.
    const t = await herald({ config: { pgPoolSize: 1 } });
    const ready = () => t.call('GET', '/ready', undefined, null);
    expect((await ready()).status).toBe(200);
    const readOnly = TEST_STORE === 'sqlite' ? sql`PRAGMA query_only = ON` : sql`SET default_transaction_read_only = on`;
    const writable = TEST_STORE === 'sqlite' ? sql`PRAGMA query_only = OFF` : sql`SET default_transaction_read_only = off`;
    await readOnly.execute(t.herald.store.db);
    // Reads still work: a SELECT 1 alone would call this store ready.
    expect((await t.call('GET', '/v1/tenants')).status).toBe(200);
    expect(await ready()).toMatchObject({ status: 503, body: { status: 'not_ready', store: false } });
    await writable.execute(t.herald.store.db);
    // A refused write may count as an outage (store/unavailable.ts): the store's probe then calls it back within seconds.
    await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 100 }).toBe(200);
    expect(await ready()).toMatchObject({ status: 200, body: { status: 'ready', store: true } });
  }, 30_000);
});
