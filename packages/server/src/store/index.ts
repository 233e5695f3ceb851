import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ApiKeyRepo } from './api-keys.js';
import { openDatabase, type DatabaseOptions, type DialectName } from './connect.js';
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

export type { Page } from './page.js';
export { MAX_PAGE_SIZE } from './page.js';
export type { ClaimedDelivery, Completion, DisabledEndpoint, HealthHooks } from './queue.js';
export type { DispatchEndpoint, EndpointPatch } from './endpoints.js';
export type { AttemptLogEntry, DeliveryFilter, DeliveryStats, EndpointHealth } from './deliveries.js';
export type { EventToInsert, InsertedEvent, PlannedDelivery } from './events.js';

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
    /** PostgreSQL: a connection like the pool's, for the due-delivery listener. */
    readonly listenConnection?: { connectionString: string; options: string },
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

  /** Opens `DATABASE_URL` and brings its schema up to date. */
  static async open(url: string | undefined, opts: { migrate?: boolean; secrets?: SecretBox; db?: DatabaseOptions } = {}): Promise<Store> {
    const handle = openDatabase(url, opts.db);
    try {
      if (opts.migrate !== false) await migrateToLatest(handle.db, handle.schema);
    } catch (err) {
      await handle.db.destroy();
      throw err;
    }
    return new Store(handle.db, handle.dialect, handle.location, handle.listenConnection, opts.secrets);
  }

  /** Deletes events older than `cutoff` with their deliveries and attempts (retention); returns how many events went. */
  pruneBefore(cutoff: number): Promise<number> {
    return pruneEvents(this.db, cutoff);
  }

  async ping(): Promise<boolean> {
    try {
      await sql`SELECT 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
