import type { Kysely } from 'kysely';
import type { Attempt, Delivery, DeliveryStatus } from '../core/model.js';
import { toPage, type Page } from './page.js';
import { toAttempt, toDelivery } from './rows.js';
import type { Database } from './schema.js';
import { notifyDue } from './wake.js';

/** One attempt with the event it carried, for per-endpoint delivery logs. */
export interface AttemptLogEntry {
  deliveryId: string;
  eventId: string;
  eventType: string;
  attemptNumber: number;
  startedAt: number;
  durationMs: number;
  responseStatus: number | null;
  errorKind: string | null;
}

export interface EndpointHealth {
  lastAttempt: AttemptLogEntry | null;
  attemptsSince: number;
  successesSince: number;
  /** Failed attempts since the last successful one. */
  consecutiveFailures: number;
  nextRetryAt: number | null;
}

export interface DeliveryStats {
  total: number;
  byStatus: Record<string, number>;
  averageDurationMs: number | null;
}

export interface DeliveryFilter {
  endpointId?: string;
  /** Deliveries to any of these endpoints (e.g. all of one profile's endpoints). */
  endpointIds?: readonly string[];
  eventId?: string;
  eventType?: string;
  status?: DeliveryStatus;
  after?: number;
  before?: number;
  cursor?: string;
  limit: number;
}

/** The delivery log as the API reads it. Every query is scoped to one tenant. */
export class DeliveryRepo {
  constructor(
    private readonly db: Kysely<Database>,
    /** PostgreSQL: where replays and resends announce that a delivery is due (workers in other processes wake). */
    private readonly dueChannel?: string,
  ) {}

  async list(tenantId: string, f: DeliveryFilter): Promise<Page<Delivery>> {
    let q = this.db.selectFrom('deliveries').selectAll().where('tenant_id', '=', tenantId);
    if (f.endpointId) q = q.where('endpoint_id', '=', f.endpointId);
    if (f.endpointIds) {
      if (f.endpointIds.length === 0) return { data: [], nextCursor: null };
      q = q.where('endpoint_id', 'in', f.endpointIds);
    }
    if (f.eventId) q = q.where('event_id', '=', f.eventId);
    if (f.eventType) q = q.where('event_type', '=', f.eventType);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.after !== undefined) q = q.where('created_at', '>=', f.after);
    if (f.before !== undefined) q = q.where('created_at', '<', f.before);
    if (f.cursor) q = q.where('id', '<', f.cursor);
    const rows = await q.orderBy('id', 'desc').limit(f.limit + 1).execute();
    return toPage(rows.map(toDelivery), f.limit);
  }

  async get(tenantId: string, id: string): Promise<Delivery | undefined> {
    const row = await this.db.selectFrom('deliveries').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toDelivery(row);
  }

  async attempts(tenantId: string, deliveryId: string): Promise<Attempt[]> {
    const rows = await this.db.selectFrom('attempts').selectAll()
      .where('tenant_id', '=', tenantId).where('delivery_id', '=', deliveryId)
      .orderBy('attempt_number').orderBy('started_at').execute();
    return rows.map(toAttempt);
  }

  /**
   * Schedules one more attempt now. A finished delivery (delivered or failed) is re-opened as
   * `retrying` with exactly one attempt allowed (a replay does not restart the retry schedule);
   * one already waiting is just moved forward. Returns undefined if not found, or the delivery
   * unchanged if an attempt is in flight right now.
   */
  async retryNow(tenantId: string, id: string, now: number): Promise<Delivery | undefined> {
    const res = await this.db.updateTable('deliveries')
      .set((eb) => {
        const finished = eb('status', 'in', ['delivered', 'failed']);
        return {
          status: eb.case().when(finished).then('retrying').else(eb.ref('status')).end(),
          attempt_limit: eb.case().when(finished).then(eb('attempt_count', '+', 1)).else(eb.ref('attempt_limit')).end(),
          next_attempt_at: now,
          updated_at: now,
        };
      })
      .where('tenant_id', '=', tenantId).where('id', '=', id).where('status', '!=', 'delivering')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) await notifyDue(this.db, this.dueChannel);
    return this.get(tenantId, id);
  }

  async findFor(tenantId: string, eventId: string, endpointId: string): Promise<Delivery | undefined> {
    const row = await this.db.selectFrom('deliveries').selectAll()
      .where('tenant_id', '=', tenantId).where('event_id', '=', eventId).where('endpoint_id', '=', endpointId)
      .orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row && toDelivery(row);
  }

  /** A new delivery of an existing event to one endpoint, due now (resending to an endpoint that did not get it). */
  async insertOne(d: { id: string; tenantId: string; eventId: string; endpointId: string; eventType: string; ordered: boolean }, now: number): Promise<Delivery> {
    await this.db.insertInto('deliveries').values({
      id: d.id, tenant_id: d.tenantId, event_id: d.eventId, endpoint_id: d.endpointId, event_type: d.eventType, ordered: d.ordered ? 1 : 0,
      status: 'pending', attempt_count: 0, attempt_limit: null, next_attempt_at: now, lease_owner: null,
      first_attempt_at: null, last_attempt_at: null, last_status_code: null, last_error_kind: null, created_at: now, updated_at: now,
    }).execute();
    await notifyDue(this.db, this.dueChannel);
    return (await this.get(d.tenantId, d.id))!;
  }

  /** Deliveries created since `since` to the given endpoints, counted by status, with the mean attempt duration. */
  async stats(tenantId: string, endpointIds: readonly string[], since: number): Promise<DeliveryStats> {
    if (endpointIds.length === 0) return { total: 0, byStatus: {}, averageDurationMs: null };
    const rows = await this.db.selectFrom('deliveries').select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('tenant_id', '=', tenantId).where('endpoint_id', 'in', endpointIds).where('created_at', '>=', since)
      .groupBy('status').execute();
    const avg = await this.db.selectFrom('attempts').select((eb) => eb.fn.avg<number>('duration_ms').as('ms'))
      .where('tenant_id', '=', tenantId).where('endpoint_id', 'in', endpointIds).where('started_at', '>=', since)
      .executeTakeFirstOrThrow();
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    return { total: rows.reduce((n, r) => n + Number(r.n), 0), byStatus, averageDurationMs: avg.ms === null ? null : Number(avg.ms) };
  }

  /** An endpoint's attempts, newest first, by offset (for page-numbered logs). */
  async attemptLog(tenantId: string, endpointId: string, offset: number, limit: number): Promise<{ entries: AttemptLogEntry[]; total: number }> {
    const rows = await this.attemptQuery(tenantId, endpointId).orderBy('attempts.started_at', 'desc').orderBy('attempts.id', 'desc').offset(offset).limit(limit).execute();
    const total = await this.db.selectFrom('attempts').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).executeTakeFirstOrThrow();
    return { entries: rows.map(toLogEntry), total: Number(total.n) };
  }

  async endpointHealth(tenantId: string, endpointId: string, since: number): Promise<EndpointHealth> {
    const last = await this.attemptQuery(tenantId, endpointId).orderBy('attempts.started_at', 'desc').orderBy('attempts.id', 'desc').limit(1).executeTakeFirst();
    const window = await this.db.selectFrom('attempts')
      .select((eb) => [eb.fn.countAll<number>().as('total'), eb.fn.count<number>('response_status').filterWhere('error_kind', 'is', null).as('ok')])
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('started_at', '>=', since)
      .executeTakeFirstOrThrow();
    const lastOk = await this.db.selectFrom('attempts').select('started_at')
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('error_kind', 'is', null)
      .orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    let failures = this.db.selectFrom('attempts').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('error_kind', 'is not', null);
    if (lastOk) failures = failures.where('started_at', '>', lastOk.started_at);
    const next = await this.db.selectFrom('deliveries').select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('status', '=', 'retrying')
      .executeTakeFirstOrThrow();
    return {
      lastAttempt: last ? toLogEntry(last) : null,
      attemptsSince: Number(window.total),
      successesSince: Number(window.ok),
      consecutiveFailures: Number((await failures.executeTakeFirstOrThrow()).n),
      nextRetryAt: next.at === null ? null : Number(next.at),
    };
  }

  private attemptQuery(tenantId: string, endpointId: string) {
    return this.db.selectFrom('attempts')
      .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
      .select(['attempts.delivery_id', 'deliveries.event_id', 'deliveries.event_type', 'attempts.attempt_number', 'attempts.started_at', 'attempts.duration_ms', 'attempts.response_status', 'attempts.error_kind'])
      .where('attempts.tenant_id', '=', tenantId).where('attempts.endpoint_id', '=', endpointId);
  }
}

function toLogEntry(r: { delivery_id: string; event_id: string; event_type: string; attempt_number: number; started_at: number; duration_ms: number; response_status: number | null; error_kind: string | null }): AttemptLogEntry {
  return {
    deliveryId: r.delivery_id, eventId: r.event_id, eventType: r.event_type, attemptNumber: r.attempt_number,
    startedAt: Number(r.started_at), durationMs: r.duration_ms, responseStatus: r.response_status, errorKind: r.error_kind,
  };
}
