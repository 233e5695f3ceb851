import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { DEFAULTS, type Settings } from '../config/index.js';
import { threadEntry } from '../thread-entry.js';
import { Availability, type StoreLogger } from './availability.js';
import { describeOpenError, readOnly, StoreOpenError } from './open-errors.js';
import { guardPool, PG_CONNECT_TIMEOUT_MS, PG_KEEPALIVE_DELAY_MS, type PgConnectionOptions, type QueryLimits } from './pg-connections.js';
import { prepareRepeatedStatements } from './pg-prepared.js';
import type { Database } from './schema.js';
import { watchedDialect } from './watched-dialect.js';
import { dueChannel } from './wake.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Human-readable location, with no credentials. */
  location: string;
  /** PostgreSQL schema holding Herald's tables (from `?schema=`); undefined on SQLite. */
  schema?: string;
  /** PostgreSQL only: how to open another connection like the pool's (for LISTEN). */
  listenConnection?: ListenConnection;
  /** Notices outages from any failed call and probes until the database is back. */
  availability: Availability;
  /** PostgreSQL: the statement timeout in force (none until `Store.open` has migrated). */
  limits: QueryLimits;
}

/** How to open another connection like the pool's, and the channel its installation's wake-ups use. */
export type ListenConnection = PgConnectionOptions & { channel: string };

export type { StoreLogger };

export const DEFAULT_SQLITE_PATH = './data/herald.db';

/** How to open the database: the store's settings, from the config module. */
export type DatabaseOptions = Pick<Settings, 'pgPoolSize' | 'pgPreparedStatements' | 'sqliteSynchronous'> & {
  /** PostgreSQL: how long to wait for a connection (new, or free in the pool), ms; default PG_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
};


/** `DATABASE_URL` → connection. Unset = the embedded SQLite file `./data/herald.db`. */
export function openDatabase(url: string | undefined, opts: DatabaseOptions = DEFAULTS, logger?: StoreLogger): DatabaseHandle {
  const value = url?.trim() || `sqlite:${DEFAULT_SQLITE_PATH}`;
  if (value.startsWith('sqlite:')) return openSqlite(value.replace(/^sqlite:(\/\/)?/, ''), opts, logger);
  if (/^postgres(ql)?:\/\//.test(value)) return openPostgres(value, opts);
  throw new Error(`DATABASE_URL must start with "sqlite:" or "postgres://" (got "${value.split(':')[0]}:…")`);
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `postgres://user@host:5432/db?schema=name`. The schema (default `public`) is set as the search
 * path of every connection, so one database can hold several Herald installations (and tests).
 */
function openPostgres(value: string, opts: DatabaseOptions): DatabaseHandle {
  const url = new URL(value);
  const schema = url.searchParams.get('schema') ?? 'public';
  url.searchParams.delete('schema');
  if (!SCHEMA_NAME.test(schema)) throw new Error(`DATABASE_URL: schema must match ${SCHEMA_NAME} (got "${schema}")`);
  // int8 → number: Herald's bigints are epoch milliseconds and counts, well inside 2^53.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
  // A bounded wait for every connection, and TCP keepalive so a silently dead peer is noticed.
  const connection: PgConnectionOptions = {
    connectionString: url.toString(), options: `-c search_path=${schema}`,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? PG_CONNECT_TIMEOUT_MS, keepAlive: true, keepAliveInitialDelayMillis: PG_KEEPALIVE_DELAY_MS,
  };
  const pool = new pg.Pool({ ...connection, max: opts.pgPoolSize });
  const limits: QueryLimits = { queryTimeoutMs: 0 };
  const db: Kysely<Database> = new Kysely<Database>({ dialect: watchedDialect(new PostgresDialect({ pool }), (err, startedAt) => availability.report(err, startedAt)) });
  const availability = new Availability(async () => {
    await sql`SELECT 1`.execute(db);
  });
  // First, so that the prepared-statement wrapper below sends through the timed query.
  guardPool(pool, limits, availability.report);
  // Off for poolers that cannot carry prepared statements (PgBouncer in transaction mode before 1.21).
  if (opts.pgPreparedStatements) prepareRepeatedStatements(pool);
  return {
    db,
    dialect: 'postgres',
    location: `postgres ${url.hostname}:${url.port || 5432}${url.pathname} schema ${schema}`,
    schema,
    listenConnection: { ...connection, channel: dueChannel(schema) },
    availability,
    limits,
  };
}

/** Free space below which a SQLite store that failed to write is not tried again (a write that would only fail again). */
export const SQLITE_PROBE_MIN_FREE_BYTES = 4 * 1024 * 1024;

/**
 * SQLite is back when its disk has room again and a write goes through. Room must be checked
 * apart: with a full disk, small writes can still succeed in WAL space freed by a rollback or a
 * checkpoint while every larger one fails, so a write alone would call it back too early.
 */
async function probeSqlite(db: Kysely<Database>, file: string | null): Promise<void> {
  if (file) {
    const fs = await statfs(dirname(file));
    if (fs.bavail * fs.bsize < SQLITE_PROBE_MIN_FREE_BYTES) throw new Error(`only ${fs.bavail * fs.bsize} bytes free on the database's disk`);
  }
  // Rewrites the header's user_version (unused by Herald) with its own value: a real write, changing nothing.
  const { rows } = await sql<{ user_version: number }>`PRAGMA user_version`.execute(db);
  await sql.raw(`PRAGMA user_version = ${Number(rows[0]?.user_version ?? 0)}`).execute(db);
}

function openSqlite(path: string, opts: DatabaseOptions, logger?: StoreLogger): DatabaseHandle {
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(path);
  if (!inMemory) checkWritableFile(file);
  let sqlite: SqliteDatabase.Database | undefined;
  try {
    sqlite = new SqliteDatabase(file);
    // WAL lets API reads run beside the writer; synchronous=NORMAL is durable against process
    // crashes (kill -9), which is the failure Herald promises to survive (see docs).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`synchronous = ${opts.sqliteSynchronous}`);
    sqlite.pragma('busy_timeout = 5000');
  } catch (err) {
    sqlite?.close();
    const described = describeOpenError(err, file);
    throw described ? new StoreOpenError(described, { cause: err }) : err;
  }
  const checkpointer = inMemory ? null : startCheckpointer(sqlite, file, logger);
  const database = withStatementCache(sqlite, () => checkpointer?.postMessage('close'));
  const db: Kysely<Database> = new Kysely<Database>({ dialect: watchedDialect(new SqliteDialect({ database }), (err, startedAt) => availability.report(err, startedAt)) });
  const availability = new Availability(() => probeSqlite(db, inMemory ? null : file));
  return { db, dialect: 'sqlite', location: file, availability, limits: { queryTimeoutMs: 0 } };
}

/**
 * A SQLite file this process cannot write opens read-only without a word, or fails on its first
 * write with "attempt to write a readonly database" and no path; say which, before opening. Its
 * folder must be writable too: the -wal and -shm files live beside it.
 */
function checkWritableFile(file: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreOpenError(`DATABASE_URL: cannot create the folder ${dir} for the SQLite database: ${(err as Error).message}`, { cause: err });
  }
  const writable = (p: string) => {
    try {
      accessSync(p, constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (!writable(dir)) throw new StoreOpenError(readOnly(file, `its folder ${dir} is not writable`));
  if (existsSync(file) && !writable(file)) throw new StoreOpenError(readOnly(file, 'the file is not writable'));
}

/**
 * Checkpoints (copying the WAL back into the database file, with an fsync) ran inside whichever
 * commit crossed SQLite's 1,000-page threshold, on the event loop: about a fifth of the store's
 * time in the delivery hot path. A thread with its own connection runs them instead, every 100 ms;
 * this connection keeps a far higher automatic threshold only as a safety net, and the WAL file
 * is cut back to 64 MiB when it resets.
 */
function startCheckpointer(sqlite: SqliteDatabase.Database, file: string, logger?: StoreLogger): Worker {
  sqlite.pragma('wal_autocheckpoint = 16000');
  sqlite.pragma('journal_size_limit = 67108864');
  const worker = new Worker(threadEntry(new URL('./checkpoint-thread.js', import.meta.url)), {
    workerData: { file, intervalMs: 100 },
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 }, // it allocates next to nothing
  });
  // The thread reports checkpoints that fail for any reason but contention (at most once a minute).
  worker.on('message', (msg: { checkpointError?: string }) => {
    if (msg.checkpointError) logger?.warn({ file, error: msg.checkpointError }, 'SQLite checkpoint failed; the WAL file grows until one succeeds');
  });
  // Without it the database keeps working, only checkpoints go back to the safety net: never
  // let the thread's failure (e.g. the file removed under it) take the process down.
  worker.on('error', (err) => {
    logger?.error({ err, file }, 'SQLite checkpoint thread died; SQLite checkpoints inside commits again (slower writes)');
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  });
  worker.unref();
  return worker;
}

/**
 * Kysely prepares every statement anew; parsing SQL was 6% of delivery CPU in profiles. The hot
 * queries repeat the same text, so keep their prepared statements (bounded, least recently used out).
 * Closing the database also stops the checkpoint thread (`onClose`).
 */
function withStatementCache(sqlite: SqliteDatabase.Database, onClose: () => void, max = 256): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const prepare = (source: string): SqliteDatabase.Statement => {
    let stmt = cache.get(source);
    if (stmt) {
      cache.delete(source);
    } else {
      stmt = sqlite.prepare(source);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, stmt);
    return stmt;
  };
  const close = () => {
    onClose();
    return sqlite.close();
  };
  return new Proxy(sqlite, {
    get: (target, prop) => (prop === 'prepare' ? prepare : prop === 'close' ? close : Reflect.get(target, prop, target)),
  });
}
