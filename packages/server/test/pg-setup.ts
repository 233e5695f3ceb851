import pg from 'pg';

/** PostgreSQL used by the `postgres` test project: DATABASE_URL, or the local development server. */
export const PG_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Every schema a test run creates starts with `herald_t_<unix seconds>_<random>_` (the run id is set
 * once in vitest.config.ts), so concurrent runs against one database never touch each other's.
 */
export const TEST_RUN = process.env.HERALD_TEST_RUN ?? `${Math.floor(Date.now() / 1000)}_0000`;
export const TEST_SCHEMA_PREFIX = `herald_t_${TEST_RUN}_`;
const STALE_AFTER_S = 6 * 3600;

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new Error(`The PostgreSQL test suite needs a server at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')} (set DATABASE_URL): ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drops this run's schemas, and those of runs that started more than six hours ago (crashed runs). */
async function dropSchemas(client: pg.Client, includeStale: boolean): Promise<void> {
  const { rows } = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'herald\\_t\\_%'");
  const now = Math.floor(Date.now() / 1000);
  for (const { nspname } of rows) {
    const started = Number(/^herald_t_(\d{10})_/.exec(nspname)?.[1] ?? 0);
    if (nspname.startsWith(TEST_SCHEMA_PREFIX) || (includeStale && now - started > STALE_AFTER_S)) {
      await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
    }
  }
}

/** Global setup of the postgres project: fail the run, loudly, when the server is unreachable (never skipped). */
export default async function setup(): Promise<() => Promise<void>> {
  await withClient((c) => dropSchemas(c, true));
  return () => withClient((c) => dropSchemas(c, false));
}
