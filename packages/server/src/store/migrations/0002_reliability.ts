import { sql, type Kysely } from 'kysely';

/**
 * Endpoint health (circuit breaker, throttling, auto-disable), per-endpoint delivery limits,
 * manual-replay budgets, recovery jobs and the indexes retention pruning needs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const endpointColumns: [string, 'integer' | 'bigint' | 'text', string?][] = [
    ['max_in_flight', 'integer'],
    ['timeout_ms', 'integer'],
    ['consecutive_failures', 'integer', '0'],
    ['failing_since', 'bigint'],
    ['breaker_state', 'text', "'closed'"],
    ['breaker_until', 'bigint'],
    ['throttled_until', 'bigint'],
    ['disabled_reason', 'text'],
    ['disabled_at', 'bigint'],
  ];
  for (const [name, type, fallback] of endpointColumns) {
    await db.schema.alterTable('endpoints')
      .addColumn(name, type, (c) => (fallback === undefined ? c : c.notNull().defaultTo(sql.raw(fallback))))
      .execute();
  }
  // Attempts answered with 429/503 + Retry-After: logged, but they do not use up the retry schedule.
  await db.schema.alterTable('deliveries').addColumn('throttled_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // A manual replay allows exactly one more attempt: the delivery fails again once attempt_count reaches it.
  await db.schema.alterTable('deliveries').addColumn('attempt_limit', 'integer').execute();

  await db.schema
    .createTable('recoveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) => c.notNull())
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('total', 'integer')
    .addColumn('requeued', 'integer', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('recoveries_endpoint').on('recoveries').columns(['endpoint_id', 'created_at']).execute();
  await db.schema.createIndex('recoveries_open').on('recoveries').column('status').where(sql.ref('finished_at'), 'is', null).execute();
}
