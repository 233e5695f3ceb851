import { sql, type Kysely } from 'kysely';
import type { Recovery } from '../core/model.js';
import type { DialectName } from './connect.js';
import { toRecovery } from './rows.js';
import type { Database } from './schema.js';
import { notifyDue } from './wake.js';

/**
 * Recovery jobs: re-queue an endpoint's failed deliveries in small batches, in the background,
 * with progress. A delivery is taken only if it had already failed when the job was created, so
 * the job ends even if re-queued deliveries fail again, and each is re-queued at most once per job.
 */
export class RecoveryRepo {
  constructor(private readonly db: Kysely<Database>, private readonly dialect: DialectName, private readonly dueChannel?: string) {}

  /** Queues a recovery, or returns the unfinished one for the same endpoint and `since` (`created` false). */
  async create(r: { id: string; tenantId: string; endpointId: string; since: number }, now: number): Promise<{ recovery: Recovery; created: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      const open = await trx.selectFrom('recoveries').selectAll()
        .where('tenant_id', '=', r.tenantId).where('endpoint_id', '=', r.endpointId).where('since', '=', r.since).where('finished_at', 'is', null)
        .executeTakeFirst();
      if (open) return { recovery: toRecovery(open), created: false };
      const row = {
        id: r.id, tenant_id: r.tenantId, endpoint_id: r.endpointId, since: r.since, status: 'queued', total: null, requeued: 0,
        lease_owner: null, lease_until: null, created_at: now, updated_at: now, finished_at: null,
      };
      await trx.insertInto('recoveries').values(row).execute();
      return { recovery: toRecovery(row), created: true };
    });
  }

  async get(tenantId: string, id: string): Promise<Recovery | undefined> {
    const row = await this.db.selectFrom('recoveries').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toRecovery(row);
  }

  async listForEndpoint(tenantId: string, endpointId: string, limit: number): Promise<Recovery[]> {
    const rows = await this.db.selectFrom('recoveries').selectAll().where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toRecovery);
  }

  /** Takes the oldest unfinished job nobody holds (or whose holder's lease lapsed). */
  async claim(owner: string, now: number, leaseUntil: number): Promise<Recovery | undefined> {
    const lock = sql.raw(this.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '');
    const { rows } = await sql<Database['recoveries']>`
      UPDATE recoveries SET status = 'running', lease_owner = ${owner}, lease_until = ${leaseUntil}, updated_at = ${now}
       WHERE id = (SELECT id FROM recoveries WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until <= ${now})
                    ORDER BY created_at LIMIT 1 ${lock})
      RETURNING *`.execute(this.db);
    return rows[0] && toRecovery(rows[0]);
  }

  /**
   * Re-queues the next `batch` deliveries of the job (one attempt each, due now) and records
   * progress, in one transaction. Returns whether the job is finished.
   */
  async step(job: Recovery, owner: string, batch: number, now: number, leaseUntil: number): Promise<{ requeued: number; done: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      let total = job.total;
      if (total === null) {
        const row = await this.failedOf(trx, job).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        total = Number(row.n);
      }
      const ids = (await this.failedOf(trx, job).select('id').orderBy('id').limit(batch).execute()).map((r) => r.id);
      if (ids.length > 0) {
        await trx.updateTable('deliveries')
          .set((eb) => ({ status: 'retrying', next_attempt_at: now, attempt_limit: eb('attempt_count', '+', 1), updated_at: now }))
          .where('id', 'in', ids).where('status', '=', 'failed')
          .execute();
        await notifyDue(trx, this.dueChannel);
      }
      const done = ids.length < batch;
      const res = await trx.updateTable('recoveries')
        .set((eb) => ({
          total, requeued: eb('requeued', '+', ids.length), updated_at: now, lease_until: leaseUntil,
          ...(done ? { status: 'done', finished_at: now, lease_owner: null, lease_until: null } : {}),
        }))
        .where('id', '=', job.id).where('lease_owner', '=', owner)
        .executeTakeFirst();
      // Lost the job to another worker (our lease lapsed): undo this batch, they will redo it.
      if (Number(res.numUpdatedRows) === 0) throw new Error(`recovery ${job.id} is no longer held by ${owner}`);
      return { requeued: ids.length, done };
    });
  }

  private failedOf(trx: Kysely<Database>, job: Recovery) {
    return trx.selectFrom('deliveries')
      .where('tenant_id', '=', job.tenantId).where('endpoint_id', '=', job.endpointId).where('status', '=', 'failed')
      .where('created_at', '>=', job.since).where('updated_at', '<=', job.createdAt);
  }
}
