import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Schedules (due now) the earliest unscheduled delivery of a FIFO endpoint, unless one of its
 * ordered deliveries is already scheduled or in flight: the chain has one head at a time.
 */
export async function scheduleNextOrdered(trx: Kysely<Database>, endpointId: string, now: number): Promise<void> {
  await sql`
    UPDATE deliveries SET next_attempt_at = ${now}, updated_at = ${now}
     WHERE id = (SELECT id FROM deliveries WHERE endpoint_id = ${endpointId} AND ordered = 1 AND status IN ('pending', 'retrying')
                   AND next_attempt_at IS NULL ORDER BY event_id LIMIT 1)
       AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ${endpointId} AND ordered = 1
                         AND ((status IN ('pending', 'retrying') AND next_attempt_at IS NOT NULL) OR status = 'delivering'))`.execute(trx);
}
