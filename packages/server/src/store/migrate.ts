import { Migrator, type Kysely } from 'kysely';
import { LATEST_MIGRATION, migrationProvider } from './migrations/index.js';
import { describeOpenError, newerSchema, StoreOpenError } from './open-errors.js';
import type { Database } from './schema.js';

const MIGRATION_TABLE = 'herald_migrations';

/**
 * Applies pending migrations. Kysely's migrator records each one and takes the dialect's lock
 * (an advisory lock on PostgreSQL), and refuses to run when the database has a migration this
 * code does not know, i.e. a newer schema. Failures to reach or open the database, and a newer
 * schema, come out as one line naming DATABASE_URL (StoreOpenError).
 */
export async function migrateToLatest(db: Kysely<Database>, schema?: string, location?: string): Promise<string[]> {
  const migrator = new Migrator({
    db, provider: migrationProvider, migrationTableName: MIGRATION_TABLE, migrationLockTableName: 'herald_migrations_lock',
    // Pinned, or Kysely would take another schema's migration table for ours. Kysely also creates
    // the schema, tolerating processes that start at once (PostgreSQL's IF NOT EXISTS can still race).
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's introspection reads the catalog of every schema in the database: another schema
  // dropped meanwhile (another installation's, a test's) fails it with "schema … does not exist".
  for (let retry = 0; error && otherSchemaDropped(error, schema) && retry < 3; retry++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const unknown = await unknownMigrations(db, schema).catch(() => []);
    if (unknown.length > 0) throw new StoreOpenError(newerSchema(location, unknown, LATEST_MIGRATION), { cause: error });
    const described = describeOpenError(error, location);
    if (described) throw new StoreOpenError(described, { cause: error });
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Migrations recorded in the database that this version does not have (only read after a failure). */
async function unknownMigrations(db: Kysely<Database>, schema?: string): Promise<string[]> {
  const known = new Set(Object.keys(await migrationProvider.getMigrations()));
  const q = (schema ? db.withSchema(schema) : db) as unknown as Kysely<{ [MIGRATION_TABLE]: { name: string } }>;
  const rows = await q.selectFrom(MIGRATION_TABLE).select('name').execute();
  return rows.map((r) => r.name).filter((n) => !known.has(n)).sort();
}

function otherSchemaDropped(error: unknown, schema = 'public'): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e.code === '3F000' && typeof e.message === 'string' && !e.message.includes(`"${schema}"`);
}
