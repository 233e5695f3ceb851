import { HeraldError, notFound } from '../core/errors.js';
import type { Attempt, Delivery } from '../core/model.js';
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

  /** One more attempt, now. */
  async retry(tenantId: string, id: string): Promise<Delivery> {
    const delivery = await this.ctx.store.deliveries.retryNow(tenantId, id, this.ctx.clock.now());
    if (!delivery) throw notFound('Delivery', id);
    if (delivery.status === 'delivering') throw new HeraldError('conflict', 'an attempt of this delivery is in flight; try again when it has finished');
    this.ctx.nudge();
    return delivery;
  }
}
