import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { DEFAULTS, type Settings } from '../config/index.js';
import { threadEntry } from '../thread-entry.js';
import { prepareRepeatedStatements } from './pg-prepared.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Human-readable location, with no credentials. */
  location: string;
  /** PostgreSQL schema holding Herald's tables (from `?schema=`); undefined on SQLite. */
  schema?: string;
  /** PostgreSQL only: how to open another connection like the pool's (for LISTEN). */
  listenConnection?: { connectionString: string; options: string };
}

export const DEFAULT_SQLITE_PATH = './data/herald.db';

/** How to open the database: the store's settings, from the config module. */
export type DatabaseOptions = Pick<Settings, 'pgPoolSize' | 'pgPreparedStatements' | 'sqliteSynchronous'>;

/** `DATABASE_URL` → connection. Unset = the embedded SQLite file `./data/herald.db`. */
export function openDatabase(url: string | undefined, opts: DatabaseOptions = DEFAULTS): DatabaseHandle {
  const value = url?.trim() || `sqlite:${DEFAULT_SQLITE_PATH}`;
  if (value.startsWith('sqlite:')) return openSqlite(value.replace(/^sqlite:(\/\/)?/, ''), opts);
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
  const connection = { connectionString: url.toString(), options: `-c search_path=${schema}` };
  const pool = new pg.Pool({ ...connection, max: opts.pgPoolSize });
  // Off for poolers that cannot carry prepared statements (PgBouncer in transaction mode before 1.21).
  if (opts.pgPreparedStatements) prepareRepeatedStatements(pool);
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    dialect: 'postgres',
    location: `postgres ${url.hostname}:${url.port || 5432}${url.pathname} schema ${schema}`,
    schema,
    listenConnection: connection,
  };
}

function openSqlite(path: string, opts: DatabaseOptions): DatabaseHandle {
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(path);
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets API reads run beside the writer; synchronous=NORMAL is durable against process
  // crashes (kill -9), which is the failure Herald promises to survive (see docs).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${opts.sqliteSynchronous}`);
  sqlite.pragma('busy_timeout = 5000');
  const checkpointer = inMemory ? null : startCheckpointer(sqlite, file);
  const database = withStatementCache(sqlite, () => checkpointer?.postMessage('close'));
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), dialect: 'sqlite', location: file };
}

/**
 * Checkpoints (copying the WAL back into the database file, with an fsync) ran inside whichever
 * commit crossed SQLite's 1,000-page threshold, on the event loop: about a fifth of the store's
 * time in the delivery hot path. A thread with its own connection runs them instead, every 100 ms;
 * this connection keeps a far higher automatic threshold only as a safety net, and the WAL file
 * is cut back to 64 MiB when it resets.
 */
function startCheckpointer(sqlite: SqliteDatabase.Database, file: string): Worker {
  sqlite.pragma('wal_autocheckpoint = 16000');
  sqlite.pragma('journal_size_limit = 67108864');
  const worker = new Worker(threadEntry(new URL('./checkpoint-thread.js', import.meta.url)), {
    workerData: { file, intervalMs: 100 },
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 }, // it allocates next to nothing
  });
  // Without it the database keeps working, only checkpoints go back to the safety net: never
  // let the thread's failure (e.g. the file removed under it) take the process down.
  worker.on('error', () => sqlite.open && sqlite.pragma('wal_autocheckpoint = 1000'));
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
