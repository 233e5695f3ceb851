import { HeraldError, notFound } from '../core/errors.js';
import { compileEventSchema, EVENT_SCHEMA_LIMITS, newPublishMeter, SchemaRefused, type EventSchema } from '../core/event-schema.js';
import { newId } from '../core/ids.js';
import type { Endpoint, EventEnvironment, EventType, WebhookEvent } from '../core/model.js';
import { getProfile } from '../core/profiles/index.js';
import type { WorkMeter } from '../core/safe-regex.js';
import type { DispatchEndpoint, InsertedEvent, PlannedDelivery } from '../store/index.js';
import type { FreshHandOff, ServiceContext } from './context.js';
import { SchemaCache } from './schema-cache.js';

export interface PublishInput {
  type: string;
  data: unknown;
  idempotencyKey?: string | null;
}

export const EVENT_TYPE_NAME = /^[A-Za-z0-9_.:-]{1,255}$/;

/** Endpoints that take an event of `type`: enabled and subscribed to it (no filter = everything). */
export const isSubscribed = (endpoint: Endpoint, type: string): boolean =>
  endpoint.status === 'enabled' && (endpoint.eventTypes === null || endpoint.eventTypes.includes(type));

/** Estimated memory of the compiled schemas one process keeps (see SchemaCache). */
export const SCHEMA_CACHE_BYTES = 64 * 1024 * 1024;

export interface EventServiceOptions {
  /** Validation work units one publish may spend (EVENT_SCHEMA_LIMITS.publishWork). */
  schemaWorkLimit?: number;
  schemaCacheBytes?: number;
}

export class EventService {
  private readonly validators: SchemaCache<EventSchema>;
  private readonly schemaWorkLimit: number;

  constructor(private readonly ctx: ServiceContext, options: EventServiceOptions = {}) {
    this.validators = new SchemaCache(options.schemaCacheBytes ?? SCHEMA_CACHE_BYTES);
    this.schemaWorkLimit = options.schemaWorkLimit ?? EVENT_SCHEMA_LIMITS.publishWork;
  }

  async createType(tenantId: string, input: { name: string; description?: string | null; schema?: Record<string, unknown> | null }): Promise<EventType> {
    if (!EVENT_TYPE_NAME.test(input.name)) {
      throw new HeraldError('validation_error', 'name must be 1-255 letters, digits, ".", "_", ":" or "-"', [{ field: 'name', message: 'invalid format' }]);
    }
    let compiled: EventSchema | undefined;
    if (input.schema) {
      try {
        compiled = compileEventSchema(input.schema);
      } catch (err) {
        if (!(err instanceof SchemaRefused)) throw err;
        throw new HeraldError('validation_error', err.message, [{ field: 'schema', message: err.message }]);
      }
    }
    const created = await this.ctx.store.eventTypes.create({
      tenantId,
      name: input.name,
      description: input.description ?? null,
      schema: input.schema ?? null,
      createdAt: this.ctx.clock.now(),
    });
    // Replaces what this process may hold from a deleted tenant of the same id.
    const key = `${tenantId}\u0000${input.name}`;
    if (compiled) this.validators.set(key, compiled);
    else this.validators.delete(key);
    return created;
  }

  /**
   * Publishes events: each is checked against its type's schema, fanned out to every subscribed
   * endpoint, and committed with all its deliveries before this returns.
   */
  async publish(tenantId: string, inputs: readonly PublishInput[]): Promise<InsertedEvent[]> {
    const now = this.ctx.clock.now();
    const endpoints = await this.ctx.store.endpoints.listEnabled(tenantId);
    const items = [];
    // Each type's schema is looked up once per publish, not once per event of a batch; the
    // events of one publish share one validation budget.
    const validators = new Map<string, EventSchema | undefined>();
    const meter = newPublishMeter(this.schemaWorkLimit);
    for (const [index, input] of inputs.entries()) {
      const event = await this.prepare(tenantId, input, now, inputs.length > 1 ? `events[${index}].` : '', 'live', validators, meter);
      items.push({ event, deliveries: plan(endpoints.filter((e) => isSubscribed(e, event.type))) });
    }
    const handOff = this.offerToWorker(items, endpoints);
    let inserted: InsertedEvent[];
    try {
      inserted = await this.ctx.store.events.insert(items, now);
    } catch (err) {
      handOff?.cancel();
      throw err;
    }
    // insert() answers each item in order; a duplicate (idempotency key seen before) wrote nothing.
    const written = items.filter((_, i) => !inserted[i]!.duplicate);
    handOff?.accept(written);
    if (written.some((w) => w.deliveries.some((d) => !d.lease))) this.ctx.nudge();
    return inserted;
  }

  /** Lets this process's worker take the deliveries it can send right away; they are written leased to it. */
  private offerToWorker(items: readonly { deliveries: PlannedDelivery[] }[], endpoints: readonly DispatchEndpoint[]): FreshHandOff | null {
    if (!this.ctx.fresh) return null;
    const byId = new Map(endpoints.map((e) => [e.id, e]));
    // FIFO deliveries keep to the queue, which holds their order.
    const candidates = items.flatMap((i) => i.deliveries.filter((d) => !d.ordered).map((d) => ({ id: d.id, endpoint: byId.get(d.endpointId)! })));
    const handOff = this.ctx.fresh.offer(candidates);
    if (handOff) {
      const lease = { owner: handOff.owner, until: handOff.leaseUntil };
      for (const item of items) for (const d of item.deliveries) if (handOff.taken.has(d.id)) d.lease = lease;
    }
    return handOff;
  }

  /** Sends one event to one endpoint only (its test route); `environment` is `test`. */
  async sendTest(endpoint: Endpoint, type: string, data: unknown): Promise<{ event: WebhookEvent; deliveryId: string }> {
    const now = this.ctx.clock.now();
    const event = await this.prepare(endpoint.tenantId, { type, data }, now, '', 'test');
    const [delivery] = plan([endpoint]);
    await this.ctx.store.events.insert([{ event, deliveries: [delivery!] }], now);
    this.ctx.nudge();
    return { event, deliveryId: delivery!.id };
  }

  async get(tenantId: string, id: string): Promise<WebhookEvent> {
    const event = await this.ctx.store.events.get(tenantId, id);
    if (!event) throw notFound('Event', id);
    return event;
  }

  private async prepare(
    tenantId: string, input: PublishInput, now: number, fieldPrefix: string, environment: EventEnvironment = 'live',
    validators = new Map<string, EventSchema | undefined>(), meter: WorkMeter = newPublishMeter(this.schemaWorkLimit),
  ): Promise<WebhookEvent> {
    if (!EVENT_TYPE_NAME.test(input.type)) {
      throw new HeraldError('validation_error', 'type must be 1-255 letters, digits, ".", "_", ":" or "-"', [{ field: `${fieldPrefix}type`, message: 'invalid format' }]);
    }
    const payload = JSON.stringify(input.data);
    if (Buffer.byteLength(payload) > this.ctx.config.maxPayloadBytes) {
      throw new HeraldError('payload_too_large', `event data is larger than ${this.ctx.config.maxPayloadBytes} bytes`, [{ field: `${fieldPrefix}data`, message: 'too large' }]);
    }
    let validate = validators.get(input.type);
    if (!validators.has(input.type)) {
      validate = await this.validatorFor(tenantId, input.type, fieldPrefix);
      validators.set(input.type, validate);
    }
    const checked = validate?.check(input.data, meter);
    if (checked && !checked.ok) {
      const field = `${fieldPrefix}data`;
      if (checked.reason === 'invalid') {
        throw new HeraldError(
          'unprocessable',
          `data does not match the schema of event type "${input.type}"`,
          checked.issues.map((e) => ({ field: `${field}${e.path.replace(/\//g, '.')}`, message: e.message })),
        );
      }
      const why = checked.reason === 'too_costly'
        ? `would take more than the ${this.schemaWorkLimit} validation steps one publish may spend; send less data per request or simplify the schema`
        : 'nests deeper than its recursive schema can be checked';
      throw new HeraldError('unprocessable', `data of event type "${input.type}" ${why}`, [{ field, message: checked.reason === 'too_costly' ? 'too costly to validate' : 'too deep to validate' }]);
    }
    return {
      id: newId('evt', now),
      tenantId,
      type: input.type,
      payload,
      idempotencyKey: input.idempotencyKey ?? null,
      environment,
      createdAt: now,
    };
  }

  private async validatorFor(tenantId: string, type: string, fieldPrefix: string): Promise<EventSchema | undefined> {
    const key = `${tenantId}\u0000${type}`;
    const cached = this.validators.get(key);
    if (cached) return cached;
    const eventType = await this.ctx.store.eventTypes.get(tenantId, type);
    if (!eventType?.schema) return undefined;
    let validate: EventSchema;
    try {
      validate = compileEventSchema(eventType.schema);
    } catch (err) {
      if (!(err instanceof SchemaRefused)) throw err;
      // Only a schema stored before these checks existed can get here.
      throw new HeraldError('unprocessable', `the schema of event type "${type}" cannot be used: ${err.message}`, [{ field: `${fieldPrefix}type`, message: 'schema refused' }]);
    }
    this.validators.set(key, validate);
    return validate;
  }
}

function plan(endpoints: readonly Endpoint[]): PlannedDelivery[] {
  return endpoints.map((e) => ({ id: getProfile(e.profile).newDeliveryId(), endpointId: e.id, ordered: e.fifo }));
}
