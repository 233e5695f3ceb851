import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { ApiKeyRepo } from './api-keys.js';
import type { Availability, Outage } from './availability.js';
import { openDatabase, type DialectName, type OpenOptions } from './connect.js';
import { PG_QUERY_TIMEOUT_MS, type PgConnectionOptions } from './pg-connections.js';
import { DeliveryRepo } from './deliveries.js';
import { EndpointRepo } from './endpoints.js';
import { EventTypeRepo } from './event-types.js';
import { EventRepo } from './events.js';
import { migrateToLatest } from './migrate.js';
import { QueueRepo } from './queue.js';
import { SecretBox } from './secret-box.js';
import { RecoveryRepo } from './recoveries.js';
import { pruneEvents } from './retention.js';
import type { Database } from './schema.js';
import { TenantRepo } from './tenants.js';
import { describeUnavailable } from './unavailable.js';

export type { Page } from './page.js';
export { MAX_PAGE_SIZE } from './page.js';
export type { ClaimedDelivery, Completion, DisabledEndpoint, HealthHooks } from './queue.js';
export type { DispatchEndpoint, EndpointPatch } from './endpoints.js';
export type { AttemptLogEntry, DeliveryFilter, DeliveryStats, EndpointHealth } from './deliveries.js';
export type { EventToInsert, InsertedEvent, PlannedDelivery } from './events.js';
export type { Availability, Outage } from './availability.js';
export { isUnavailable } from './unavailable.js';

/** One handle on the database with a repository per resource. Dialect differences stay inside the repositories. */
export class Store {
  readonly tenants: TenantRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly eventTypes: EventTypeRepo;
  readonly endpoints: EndpointRepo;
  readonly events: EventRepo;
  readonly deliveries: DeliveryRepo;
  readonly queue: QueueRepo;
  readonly recoveries: RecoveryRepo;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: DialectName,
    readonly location: string,
    /** Outages of this database as this process sees them (fed by every failed call on `db`). */
    readonly availability: Availability,
    /** PostgreSQL: a connection like the pool's, for the due-delivery listener. */
    readonly listenConnection?: PgConnectionOptions,
    secrets: SecretBox = SecretBox.plaintext(),
  ) {
    this.tenants = new TenantRepo(db);
    this.apiKeys = new ApiKeyRepo(db);
    this.eventTypes = new EventTypeRepo(db);
    this.endpoints = new EndpointRepo(db, secrets, dialect);
    this.events = new EventRepo(db, dialect);
    this.deliveries = new DeliveryRepo(db);
    this.queue = new QueueRepo(db, dialect);
    this.recoveries = new RecoveryRepo(db, dialect);
  }

  /**
   * Opens `DATABASE_URL` and brings its schema up to date. On PostgreSQL, statements then time out
   * after `queryTimeoutMs` (default PG_QUERY_TIMEOUT_MS; 0 = never), migrations excepted.
   */
  static async open(url: string | undefined, opts: OpenOptions & { migrate?: boolean; secrets?: SecretBox; logger?: Logger; queryTimeoutMs?: number } = {}): Promise<Store> {
    const handle = openDatabase(url, opts);
    try {
      if (opts.migrate !== false) await migrateToLatest(handle.db, handle.schema);
    } catch (err) {
      handle.availability.close();
      await handle.db.destroy();
      throw err;
    }
    handle.limits.queryTimeoutMs = opts.queryTimeoutMs ?? PG_QUERY_TIMEOUT_MS;
    if (opts.logger) handle.availability.setLogger(opts.logger);
    return new Store(handle.db, handle.dialect, handle.location, handle.availability, handle.listenConnection, opts.secrets);
  }

  /** Deletes events older than `cutoff` with their deliveries and attempts (retention); returns how many events went. */
  pruneBefore(cutoff: number): Promise<number> {
    return pruneEvents(this.db, cutoff);
  }

  async ping(): Promise<boolean> {
    return (await this.readiness()).ok;
  }

  /**
   * Whether the store can serve now, and if not, why. During a known outage this answers at once
   * from what was seen (no call that could wait on a dead server); otherwise it asks the database.
   */
  async readiness(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const unavailable = (o: Outage) => ({ ok: false as const, reason: `database unavailable since ${new Date(o.since).toISOString()}: ${o.reason}` });
    const known = this.availability.current;
    if (known) return unavailable(known);
    try {
      await sql`SELECT 1`.execute(this.db);
      return { ok: true };
    } catch (err) {
      // This check may be what noticed the outage: then say so as any later check would.
      const outage = this.availability.current;
      return outage ? unavailable(outage) : { ok: false, reason: `database check failed: ${describeUnavailable(err)}` };
    }
  }

  async close(): Promise<void> {
    this.availability.close();
    await this.db.destroy();
  }
}
