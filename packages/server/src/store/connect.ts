import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Human-readable location, with no credentials. */
  location: string;
}

export const DEFAULT_SQLITE_PATH = './data/herald.db';

/** `DATABASE_URL` → connection. Unset = the embedded SQLite file `./data/herald.db`. */
export function openDatabase(url: string | undefined): DatabaseHandle {
  const value = url?.trim() || `sqlite:${DEFAULT_SQLITE_PATH}`;
  if (value.startsWith('sqlite:')) return openSqlite(value.replace(/^sqlite:(\/\/)?/, ''));
  if (/^postgres(ql)?:\/\//.test(value)) {
    throw new Error('DATABASE_URL: the PostgreSQL store is not available in this version; use sqlite:PATH or leave it unset.');
  }
  throw new Error(`DATABASE_URL must start with "sqlite:" or "postgres://" (got "${value.split(':')[0]}:…")`);
}

function openSqlite(path: string): DatabaseHandle {
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(path);
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets API reads run beside the writer; synchronous=NORMAL is durable against process
  // crashes (kill -9), which is the failure Herald promises to survive (see docs).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${process.env.HERALD_SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }), dialect: 'sqlite', location: file };
}

/**
 * Kysely prepares every statement anew; parsing SQL was 6% of delivery CPU in profiles. The hot
 * queries repeat the same text, so keep their prepared statements (bounded, least recently used out).
 */
function withStatementCache(sqlite: SqliteDatabase.Database, max = 256): SqliteDatabase.Database {
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
  return new Proxy(sqlite, { get: (target, prop) => (prop === 'prepare' ? prepare : Reflect.get(target, prop, target)) });
}
