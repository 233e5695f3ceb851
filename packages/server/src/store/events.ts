import type { Kysely } from 'kysely';
import type { DialectName } from './connect.js';
import { inIds } from './id-list.js';
import { MultiRowStatement } from './multi-row.js';
import { notifyDue } from './wake.js';
import type { WebhookEvent } from '../core/model.js';
import { toPage, type Page } from './page.js';
import { toEvent } from './rows.js';
import type { Database } from './schema.js';
import { isUnavailable } from './unavailable.js';

export interface PlannedDelivery {
  id: string;
  endpointId: string;
  /** The endpoint delivers in strict order. */
  ordered?: boolean;
  /**
   * Written already claimed by this worker (until the lease expires): the publishing process hands
   * it to its own worker in memory once committed, instead of the worker claiming it back.
   */
  lease?: { owner: string; until: number };
}

export interface EventToInsert {
  event: WebhookEvent;
  deliveries: PlannedDelivery[];
}

export interface InsertedEvent {
  event: WebhookEvent;
  deliveries: number;
  /** True when the idempotency key matched an earlier event: nothing new was written. */
  duplicate: boolean;
}

interface PendingInsert {
  items: readonly EventToInsert[];
  now: number;
  resolve: (inserted: InsertedEvent[]) => void;
  reject: (err: unknown) => void;
}

/** Events one grouped transaction takes at most (a single call larger than this still goes alone). */
const MAX_GROUP_EVENTS = 1000;

const EVENT_COLUMNS = ['id', 'tenant_id', 'type', 'payload', 'idempotency_key', 'environment', 'created_at'];
const DELIVERY_COLUMNS = ['id', 'tenant_id', 'event_id', 'endpoint_id', 'event_type', 'ordered', 'status', 'attempt_count', 'next_attempt_at', 'lease_owner', 'created_at', 'updated_at'];

export class EventRepo {
  // Publishing writes one row per event and per delivery: built as text once per batch size.
  private readonly insertEvents: MultiRowStatement;
  /** With idempotency keys: the unique index decides which events are new, returning their ids. */
  private readonly insertKeyedEvents: MultiRowStatement;
  private readonly insertDeliveries: MultiRowStatement;
  /** Calls to `insert` waiting for the running write (group commit). */
  private waiting: PendingInsert[] = [];
  private writing = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName = 'sqlite',
    /** PostgreSQL: where new due deliveries are announced. */
    private readonly dueChannel?: string,
  ) {
    this.insertEvents = new MultiRowStatement(dialect, EVENT_COLUMNS.map(() => null), (values) => `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${values}`);
    this.insertKeyedEvents = new MultiRowStatement(dialect, EVENT_COLUMNS.map(() => null), (values) => `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${values}
      ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id`);
    this.insertDeliveries = new MultiRowStatement(dialect, DELIVERY_COLUMNS.map(() => null), (values) => `INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ${values}`);
  }

  /**
   * Writes events and all their deliveries in one transaction: once this returns, every delivery
   * is durable in the outbox. An event whose idempotency key was seen before is not written again;
   * the earlier event is returned instead.
   *
   * Group commit: calls made while a write is running wait for it and then share one transaction,
   * in the order they were made, each answered only once that transaction has committed. Concurrent
   * single-event publishes each paid a whole commit (~10 pages of WAL) before.
   */
  insert(items: readonly EventToInsert[], now: number): Promise<InsertedEvent[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, now, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // After the current turn's I/O: on SQLite a write finishes without yielding, so the requests
        // read in the same turn would otherwise never find one running to join.
        setImmediate(() => void this.writeWaiting());
      }
    });
  }

  private async writeWaiting(): Promise<void> {
    while (this.waiting.length > 0) {
      const group: PendingInsert[] = [];
      let events = 0;
      while (this.waiting.length > 0 && (group.length === 0 || events + this.waiting[0]!.items.length <= MAX_GROUP_EVENTS)) {
        const next = this.waiting.shift()!;
        group.push(next);
        events += next.items.length;
      }
      try {
        const now = Math.max(...group.map((g) => g.now));
        const out = await this.db.transaction().execute((trx) => this.insertIn(trx, group.flatMap((g) => g.items), now));
        let at = 0;
        for (const g of group) {
          g.resolve(out.slice(at, at + g.items.length));
          at += g.items.length;
        }
      } catch (err) {
        // One call's bad rows must not fail the others it was grouped with: each alone again. Not
        // when the database is unreachable: each would fail the same way, and if the connection
        // dropped during COMMIT the group may have committed (then a retry with the same event ids
        // would fail on them). Every caller is told to retry; idempotency keys make that safe.
        if (group.length === 1 || isUnavailable(err)) for (const g of group) g.reject(err);
        else for (const g of group) await this.db.transaction().execute((trx) => this.insertIn(trx, g.items, g.now)).then(g.resolve, g.reject);
      }
    }
    this.writing = false;
  }

  /**
   * `insert` inside a transaction the caller holds (operational events written with the change they
   * report). An idempotency key is settled by the unique index, not by looking first: of two
   * processes publishing the same key at once, one writes the event and the other (its insert
   * skipped on conflict) answers with that event, never a unique-violation error.
   */
  async insertIn(trx: Kysely<Database>, items: readonly EventToInsert[], now: number): Promise<InsertedEvent[]> {
    const out: (InsertedEvent | undefined)[] = new Array(items.length);
    // Row values in the column order above, flattened for the multi-row inserts (building rows
    // and flattening them afterwards was a tenth of a publish's CPU).
    const events: unknown[] = [];
    // The first item of each idempotency key in this call; later ones answer as its duplicates.
    const firstOfKey = new Map<string, number>();
    const candidates: number[] = [];
    for (const [i, { event }] of items.entries()) {
      if (event.idempotencyKey !== null) {
        const key = `${event.tenantId}\u0000${event.idempotencyKey}`;
        if (firstOfKey.has(key)) continue;
        firstOfKey.set(key, i);
      }
      candidates.push(i);
      events.push(event.id, event.tenantId, event.type, event.payload, event.idempotencyKey, event.environment, event.createdAt);
    }
    let written = candidates;
    if (firstOfKey.size === 0) await this.insertEvents.executeFlat(trx, events);
    else written = await this.insertKeyed(trx, items, candidates, events, out);

    const deliveries: unknown[] = [];
    const chained = await this.fifoEndpointsWithWork(trx, written.map((i) => items[i]!));
    let due = 0;
    for (const i of written) {
      const { event, deliveries: planned } = items[i]!;
      for (const d of planned) {
        // A delivery handed to this process's worker is written claimed, its lease due to expire.
        // A FIFO endpoint's delivery waits, unscheduled, behind its unfinished one; finishing
        // that one schedules the next (QueueRepo.complete), so waiting rows cost claims nothing.
        const { lease } = d;
        const nextAttemptAt = lease ? lease.until : d.ordered && chained.has(d.endpointId) ? null : now;
        deliveries.push(d.id, event.tenantId, event.id, d.endpointId, event.type, d.ordered ? 1 : 0,
          lease ? 'delivering' : 'pending', 0, nextAttemptAt, lease?.owner ?? null, now, now);
        if (!lease) due++;
        if (d.ordered) chained.add(d.endpointId);
      }
      out[i] = { event, deliveries: planned.length, duplicate: false };
    }
    await this.insertDeliveries.executeFlat(trx, deliveries);
    // Wakes idle workers in other processes; delivered only if this transaction commits.
    if (due > 0) await notifyDue(trx, this.dueChannel);
    return items.map(({ event }, i) => out[i] ?? { ...out[firstOfKey.get(`${event.tenantId}\u0000${event.idempotencyKey}`)!]!, duplicate: true });
  }

  /**
   * Writes the candidate events, skipping those whose idempotency key is taken; answers the
   * skipped ones (in `out`) with the event that holds the key, and returns the indexes written.
   */
  private async insertKeyed(
    trx: Kysely<Database>, items: readonly EventToInsert[], candidates: readonly number[], events: readonly unknown[], out: (InsertedEvent | undefined)[],
  ): Promise<number[]> {
    const inserted = new Set((await this.insertKeyedEvents.executeFlatReturning<Database, { id: string }>(trx, events)).map((r) => r.id));
    const written: number[] = [];
    for (const i of candidates) {
      const { event } = items[i]!;
      if (inserted.has(event.id)) {
        written.push(i);
        continue;
      }
      // On PostgreSQL the insert waited for the transaction holding the key and skipped once it
      // committed; read committed shows that row to the next statement.
      const earlier = await this.findByIdempotencyKey(trx, event.tenantId, event.idempotencyKey!);
      if (!earlier) throw new Error(`event ${event.id}: its idempotency key conflicted, but no event holds it`);
      out[i] = earlier;
    }
    return written;
  }

  async get(tenantId: string, id: string): Promise<WebhookEvent | undefined> {
    const row = await this.db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toEvent(row);
  }

  async list(tenantId: string, opts: { cursor?: string; limit: number; type?: string; after?: number; before?: number }): Promise<Page<WebhookEvent>> {
    let q = this.db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId);
    if (opts.cursor) q = q.where('id', '<', opts.cursor);
    if (opts.type) q = q.where('type', '=', opts.type);
    if (opts.after !== undefined) q = q.where('created_at', '>=', opts.after);
    if (opts.before !== undefined) q = q.where('created_at', '<', opts.before);
    const rows = await q.orderBy('id', 'desc').limit(opts.limit + 1).execute();
    return toPage(rows.map(toEvent), opts.limit);
  }

  /** By id regardless of tenant: only for the delivery worker. */
  async getForDispatch(ids: readonly string[]): Promise<Map<string, WebhookEvent>> {
    const out = new Map<string, WebhookEvent>();
    if (ids.length === 0) return out;
    const rows = await this.db.selectFrom('events').selectAll().where(inIds(this.dialect, 'id', ids)).execute();
    for (const r of rows) out.set(r.id, toEvent(r));
    return out;
  }

  /** FIFO endpoints among these deliveries that already have an unfinished ordered delivery. */
  private async fifoEndpointsWithWork(trx: Kysely<Database>, items: readonly EventToInsert[]): Promise<Set<string>> {
    const ids = [...new Set(items.flatMap((i) => i.deliveries.filter((d) => d.ordered).map((d) => d.endpointId)))];
    if (ids.length === 0) return new Set();
    const rows = await trx.selectFrom('deliveries').select('endpoint_id').distinct()
      .where('endpoint_id', 'in', ids).where('ordered', '=', 1).where('status', 'in', ['pending', 'retrying', 'delivering']).execute();
    return new Set(rows.map((r) => r.endpoint_id));
  }

  private async findByIdempotencyKey(db: Kysely<Database>, tenantId: string, key: string): Promise<InsertedEvent | undefined> {
    const row = await db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('idempotency_key', '=', key).executeTakeFirst();
    if (!row) return undefined;
    const count = await db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('event_id', '=', row.id).executeTakeFirstOrThrow();
    return { event: toEvent(row), deliveries: Number(count.n), duplicate: true };
  }
}
