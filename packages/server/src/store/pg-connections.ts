import type pg from 'pg';

/** How long to wait for a connection (a new one, or a free one from the pool) before answering 503. */
export const PG_CONNECT_TIMEOUT_MS = 5_000;
/** How long a statement may go unanswered before its connection is given up as dead (0 = never). */
export const PG_QUERY_TIMEOUT_MS = 30_000;
/** Idle time after which TCP keepalive probes start, so a silently dead peer is eventually noticed. */
export const PG_KEEPALIVE_DELAY_MS = 10_000;

/** How to open a connection like the pool's (the listener's); `connectionTimeoutMillis` bounds the wait. */
export interface PgConnectionOptions {
  connectionString: string;
  /** `-c search_path=…` */
  options: string;
  connectionTimeoutMillis: number;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
}

/** Changed at run time: statements get no timeout while migrations run (a migration, or waiting for another process's, may be long). */
export interface QueryLimits {
  queryTimeoutMs: number;
}

type Query = (...args: unknown[]) => unknown;

/**
 * Makes a pool survive its server going away. node-postgres emits `error` on the pool for an idle
 * connection that breaks, and on a checked-out client that breaks between statements (Kysely holds
 * one through a transaction): with no listener, either kills the process. Both are reported
 * instead. A broken connection is not reused: the pool drops it on release, so the next call opens
 * a new one. A statement left unanswered for `queryTimeoutMs` (a connection black-holed by a
 * failover, where no reset ever arrives) fails and its connection is closed, so it is dropped too.
 */
export function guardPool(pool: pg.Pool, limits: QueryLimits, report: (err: unknown) => void): void {
  pool.on('error', (err) => report(err));
  pool.on('connect', (client) => {
    client.on('error', (err) => report(err));
    const query = client.query.bind(client) as Query;
    const timed: Query = (...args) => {
      const ms = limits.queryTimeoutMs;
      const [first, second] = args;
      let config: Record<string, unknown>;
      if (ms <= 0 || args.length > 2 || typeof args.at(-1) === 'function') return query(...args);
      if (typeof first === 'string') config = { text: first, values: second };
      else if (first && typeof first === 'object' && typeof (first as { submit?: unknown }).submit !== 'function' && args.length === 1) config = { ...first };
      else return query(...args);
      config.query_timeout = ms;
      return (query(config) as Promise<unknown>).catch((err: unknown) => {
        // The statement may still be running on a connection that answers nothing: close it (a
        // connection with a statement in flight is destroyed at once), so the pool drops it.
        if ((err as Error)?.message === 'Query read timeout') void client.end().catch(() => {});
        throw err;
      });
    };
    (client as unknown as { query: Query }).query = timed;
  });
}
