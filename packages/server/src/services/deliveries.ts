import { HeraldError, notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Attempt, Delivery, Recovery } from '../core/model.js';
import { getProfile } from '../core/profiles/index.js';
import type { DeliveryFilter, Page } from '../store/index.js';
import type { ServiceContext } from './context.js';

export class DeliveryService {
  constructor(private readonly ctx: ServiceContext) {}

  list(tenantId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
    return this.ctx.store.deliveries.list(tenantId, filter);
  }

  async get(tenantId: string, id: string): Promise<{ delivery: Delivery; attempts: Attempt[] }> {
    const delivery = await this.ctx.store.deliveries.get(tenantId, id);
    if (!delivery) throw notFound('Delivery', id);
    return { delivery, attempts: await this.ctx.store.deliveries.attempts(tenantId, id) };
  }

  /** One more attempt, now (a finished delivery gets exactly one). */
  async retry(tenantId: string, id: string): Promise<Delivery> {
    const delivery = await this.ctx.store.deliveries.retryNow(tenantId, id, this.ctx.clock.now());
    if (!delivery) throw notFound('Delivery', id);
    if (delivery.status === 'delivering') throw new HeraldError('conflict', 'an attempt of this delivery is in flight; try again when it has finished');
    this.ctx.nudge();
    return delivery;
  }

  /** Sends an event to one endpoint again: replays its delivery there, or makes one if the endpoint never had it. */
  async resendEvent(tenantId: string, eventId: string, endpointId: string): Promise<Delivery> {
    const { store, clock } = this.ctx;
    const event = await store.events.get(tenantId, eventId);
    if (!event) throw notFound('Event', eventId);
    const endpoint = await store.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw notFound('Endpoint', endpointId);
    const existing = await store.deliveries.findFor(tenantId, eventId, endpointId);
    if (existing) return this.retry(tenantId, existing.id);
    const delivery = await store.deliveries.insertOne(
      { id: getProfile(endpoint.profile).newDeliveryId(), tenantId, eventId, endpointId, eventType: event.type, ordered: endpoint.fifo }, clock.now());
    this.ctx.nudge();
    return delivery;
  }

  /**
   * Queues a background job that re-sends (one attempt each) every delivery to the endpoint that
   * had failed by now and was created since `since`. Asking again while it runs returns the same job.
   */
  async recover(tenantId: string, endpointId: string, since: number): Promise<{ recovery: Recovery; created: boolean }> {
    const { store, clock } = this.ctx;
    if (!(await store.endpoints.get(tenantId, endpointId))) throw notFound('Endpoint', endpointId);
    if (since > clock.now()) throw new HeraldError('validation_error', 'since must not be in the future', [{ field: 'since', message: 'in the future' }]);
    const result = await store.recoveries.create({ id: newId('rcv'), tenantId, endpointId, since }, clock.now());
    if (result.created) this.ctx.nudgeRecoveries();
    return result;
  }

  async recoveries(tenantId: string, endpointId: string): Promise<Recovery[]> {
    if (!(await this.ctx.store.endpoints.get(tenantId, endpointId))) throw notFound('Endpoint', endpointId);
    return this.ctx.store.recoveries.listForEndpoint(tenantId, endpointId, 50);
  }

  async recovery(tenantId: string, id: string): Promise<Recovery> {
    const r = await this.ctx.store.recoveries.get(tenantId, id);
    if (!r) throw notFound('Recovery', id);
    return r;
  }
}
