import pg from 'pg';

/** PostgreSQL used by the `postgres` test project: DATABASE_URL, or the local development server. */
export const PG_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_SCHEMA_PREFIX = 'herald_t_';

async function dropTestSchemas(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'herald\\_t\\_%'");
  for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
}

/**
 * Global setup of the postgres project: fail the run, loudly, when the server is unreachable
 * (these tests are never skipped), and leave no test schema behind.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`The PostgreSQL test suite needs a server at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')} (set DATABASE_URL): ${(err as Error).message}`);
  }
  await dropTestSchemas(client);
  await client.end();
  return async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await dropTestSchemas(c);
    await c.end();
  };
}
