import type { Kysely } from 'kysely';
import type { Attempt, Delivery, DeliveryStatus } from '../core/model.js';
import { toPage, type Page } from './page.js';
import { toAttempt, toDelivery } from './rows.js';
import type { Database } from './schema.js';

export interface DeliveryFilter {
  endpointId?: string;
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
  constructor(private readonly db: Kysely<Database>) {}

  async list(tenantId: string, f: DeliveryFilter): Promise<Page<Delivery>> {
    let q = this.db.selectFrom('deliveries').selectAll().where('tenant_id', '=', tenantId);
    if (f.endpointId) q = q.where('endpoint_id', '=', f.endpointId);
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
   * `retrying`; one already waiting is just moved forward. Returns undefined if not found,
   * or the delivery unchanged if an attempt is in flight right now.
   */
  async retryNow(tenantId: string, id: string, now: number): Promise<Delivery | undefined> {
    await this.db.updateTable('deliveries')
      .set((eb) => ({
        status: eb.case().when('status', 'in', ['delivered', 'failed']).then('retrying').else(eb.ref('status')).end(),
        next_attempt_at: now,
        updated_at: now,
      }))
      .where('tenant_id', '=', tenantId).where('id', '=', id).where('status', '!=', 'delivering')
      .execute();
    return this.get(tenantId, id);
  }
}
