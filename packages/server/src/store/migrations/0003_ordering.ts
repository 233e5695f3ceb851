import { sql, type Kysely } from 'kysely';

/**
 * Strict per-endpoint ordering (FIFO). A delivery copies its endpoint's choice when it is made, so
 * the claim can tell ordered rows apart without a join; the partial index finds an ordered
 * endpoint's earliest unfinished delivery.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('fifo', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('deliveries').addColumn('ordered', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await sql`CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id, event_id) WHERE ordered = 1 AND status IN ('pending', 'retrying', 'delivering')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX deliveries_fifo_head`.execute(db);
  await db.schema.alterTable('deliveries').dropColumn('ordered').execute();
  await db.schema.alterTable('endpoints').dropColumn('fifo').execute();
}
