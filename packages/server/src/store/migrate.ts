import { Migrator, type Kysely } from 'kysely';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';

/**
 * Applies pending migrations. Kysely's migrator records each one and takes the dialect's lock
 * (an advisory lock on PostgreSQL), and refuses to run when the database has a migration this
 * code does not know, i.e. a newer schema.
 */
export async function migrateToLatest(db: Kysely<Database>, schema?: string): Promise<string[]> {
  const migrator = new Migrator({
    db, provider: migrationProvider, migrationTableName: 'herald_migrations', migrationLockTableName: 'herald_migrations_lock',
    // Pinned, or Kysely would take another schema's migration table for ours. Kysely also creates
    // the schema, tolerating processes that start at once (PostgreSQL's IF NOT EXISTS can still race).
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
