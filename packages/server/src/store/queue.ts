import { sql, type Kysely } from 'kysely';
import type { Attempt, DeliveryStatus } from '../core/model.js';
import type { DialectName } from './connect.js';
import type { Database } from './schema.js';

/** A delivery as a worker holds it after claiming it. */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  eventId: string;
  endpointId: string;
  eventType: string;
  attemptCount: number;
  firstAttemptAt: number | null;
}

/** The outcome of one attempt, as written back by the worker that made it. */
export interface Completion {
  deliveryId: string;
  status: Extract<DeliveryStatus, 'delivered' | 'retrying' | 'failed'>;
  attemptNumber: number;
  nextAttemptAt: number | null;
  attempt: Attempt;
}

const CHUNK = 400;

/**
 * The outbox as workers use it: claim due deliveries under a lease, write results back in
 * batches. `next_attempt_at` doubles as the lease expiry while a delivery is `delivering`, so
 * one index serves both "due now" and "lease expired, take it back".
 */
export class QueueRepo {
  constructor(private readonly db: Kysely<Database>, private readonly dialect: DialectName) {}

  /** Claims up to `limit` due deliveries in one statement (graphile-worker style). */
  async claim(workerId: string, now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]> {
    const lock = sql.raw(this.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '');
    const { rows } = await sql<{
      id: string; tenant_id: string; event_id: string; endpoint_id: string; event_type: string;
      attempt_count: number; first_attempt_at: number | string | null;
    }>`
      UPDATE deliveries
         SET status = 'delivering', lease_owner = ${workerId}, next_attempt_at = ${leaseUntil}, updated_at = ${now}
       WHERE id IN (SELECT id FROM deliveries WHERE next_attempt_at <= ${now} ORDER BY next_attempt_at LIMIT ${limit} ${lock})
      RETURNING id, tenant_id, event_id, endpoint_id, event_type, attempt_count, first_attempt_at`.execute(this.db);
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      eventId: r.event_id,
      endpointId: r.endpoint_id,
      eventType: r.event_type,
      attemptCount: Number(r.attempt_count),
      firstAttemptAt: r.first_attempt_at === null ? null : Number(r.first_attempt_at),
    }));
  }

  /**
   * Records attempts and moves their deliveries on, in one transaction and a few statements
   * whatever the batch size. An update only applies while the worker still holds the lease, so a
   * worker that lost it cannot overwrite a newer result; its attempt is still logged.
   */
  async complete(workerId: string, completions: readonly Completion[]): Promise<void> {
    if (completions.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < completions.length; i += CHUNK) {
        const chunk = completions.slice(i, i + CHUNK);
        await trx.insertInto('attempts').values(chunk.map(({ attempt: a }) => ({
          id: a.id,
          delivery_id: a.deliveryId,
          tenant_id: a.tenantId,
          endpoint_id: a.endpointId,
          attempt_number: a.attemptNumber,
          started_at: a.startedAt,
          duration_ms: a.durationMs,
          url: a.url,
          request_headers: JSON.stringify(a.requestHeaders),
          response_status: a.responseStatus,
          response_body: a.responseBody,
          error_kind: a.errorKind,
          error_message: a.errorMessage,
        }))).execute();
        const values = sql.join(chunk.map((c) => sql`(${c.deliveryId}, ${c.status}, CAST(${c.attemptNumber} AS INTEGER), CAST(${c.nextAttemptAt} AS BIGINT), CAST(${c.attempt.startedAt} AS BIGINT), CAST(${c.attempt.responseStatus} AS INTEGER), CAST(${c.attempt.errorKind} AS TEXT))`));
        await sql`
          UPDATE deliveries
             SET status = v.column2,
                 attempt_count = v.column3,
                 next_attempt_at = v.column4,
                 first_attempt_at = COALESCE(deliveries.first_attempt_at, v.column5),
                 last_attempt_at = v.column5,
                 last_status_code = v.column6,
                 last_error_kind = v.column7,
                 lease_owner = NULL,
                 updated_at = v.column5
            FROM (VALUES ${values}) AS v
           WHERE deliveries.id = v.column1 AND deliveries.lease_owner = ${workerId}`.execute(trx);
      }
    });
  }

  /**
   * Hands claimed deliveries back without an attempt: parked (no next attempt) when their endpoint
   * is disabled, so re-enabling resumes them, or failed when the endpoint is gone.
   */
  async release(workerId: string, ids: readonly string[], outcome: 'park' | 'fail', now: number): Promise<void> {
    await this.handBack(workerId, ids, outcome === 'fail' ? 'failed' : 'unclaimed', null, now);
  }

  /** Gives claimed, never-attempted deliveries back to the queue, due now (graceful stop, stale buffer). */
  async unclaim(workerId: string, ids: readonly string[], now: number): Promise<void> {
    await this.handBack(workerId, ids, 'unclaimed', now, now);
  }

  /**
   * Ends this worker's claim on `ids`. `unclaimed` restores the status the delivery had before it was
   * claimed: pending if it was never attempted, retrying otherwise.
   */
  private async handBack(workerId: string, ids: readonly string[], status: 'failed' | 'unclaimed', nextAttemptAt: number | null, now: number): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      await this.db.updateTable('deliveries')
        .set((eb) => ({
          status: status === 'failed' ? 'failed' : eb.case().when('attempt_count', '=', 0).then('pending').else('retrying').end(),
          next_attempt_at: nextAttemptAt,
          lease_owner: null,
          updated_at: now,
        }))
        .where('id', 'in', ids.slice(i, i + CHUNK)).where('lease_owner', '=', workerId).where('status', '=', 'delivering')
        .execute();
    }
  }
}
