import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { ApiKeyRepo } from './api-keys.js';
import type { Availability, Outage } from './availability.js';
import { openDatabase, type DatabaseOptions, type DialectName, type ListenConnection, type StoreLogger } from './connect.js';
import { PG_QUERY_TIMEOUT_MS } from './pg-connections.js';
import { DEFAULTS } from '../config/index.js';
import { DeliveryRepo } from './deliveries.js';
import { EndpointRepo } from './endpoints.js';
import { EventTypeRepo } from './event-types.js';
import { EventRepo } from './events.js';
import { migrateToLatest } from './migrate.js';
import { readOnly, StoreOpenError } from './open-errors.js';
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
export { StoreOpenError } from './open-errors.js';

/** Rolls back the write-probe's transaction. */
class ProbeRollback extends Error {}
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
    /** PostgreSQL: a connection like the pool's, for the due-delivery listener, and its channel. */
    readonly listenConnection?: ListenConnection,
    secrets: SecretBox = SecretBox.plaintext(),
  ) {
    // Writes that make deliveries due announce them on this installation's channel (PostgreSQL).
    const channel = listenConnection?.channel;
    this.tenants = new TenantRepo(db);
    this.apiKeys = new ApiKeyRepo(db);
    this.eventTypes = new EventTypeRepo(db);
    this.endpoints = new EndpointRepo(db, secrets, dialect, channel);
    this.events = new EventRepo(db, dialect, channel);
    this.deliveries = new DeliveryRepo(db, channel);
    this.queue = new QueueRepo(db, dialect);
    this.recoveries = new RecoveryRepo(db, dialect, channel);
  }

  /**
   * Opens `DATABASE_URL`, brings its schema up to date and checks that it can be written. Any
   * failure is a StoreOpenError whose message names DATABASE_URL and what to check. On PostgreSQL,
   * statements then time out after `queryTimeoutMs` (default PG_QUERY_TIMEOUT_MS; 0 = never),
   * migrations excepted.
   */
  static async open(
    url: string | undefined,
    opts: { migrate?: boolean; secrets?: SecretBox; db?: Partial<DatabaseOptions>; logger?: StoreLogger; queryTimeoutMs?: number } = {},
  ): Promise<Store> {
    const handle = openDatabase(url, { ...DEFAULTS, ...opts.db }, opts.logger);
    const store = new Store(handle.db, handle.dialect, handle.location, handle.availability, handle.listenConnection, opts.secrets);
    try {
      if (opts.migrate !== false) {
        await migrateToLatest(handle.db, handle.schema, handle.location);
        // A store that opens but refuses writes would serve reads and fail every publish.
        const refused = await store.writeRefusal();
        if (refused) throw new StoreOpenError(readOnly(handle.location, refused.message), { cause: refused });
      }
    } catch (err) {
      handle.availability.close();
      await handle.db.destroy();
      throw err;
    }
    handle.limits.queryTimeoutMs = opts.queryTimeoutMs ?? PG_QUERY_TIMEOUT_MS;
    if (opts.logger) handle.availability.setLogger(opts.logger);
    return store;
  }

  /** Deletes events older than `cutoff` with their deliveries and attempts (retention); returns how many events went. */
  pruneBefore(cutoff: number): Promise<number> {
    return pruneEvents(this.db, cutoff);
  }

  /** Readiness: the store answers and accepts writes (a read-only file or standby is not ready). */
  async ping(): Promise<boolean> {
    return (await this.readiness()).ok;
  }

  /**
   * Whether the store can serve now, and if not, why. During a known outage this answers at once
   * from what was seen (no call that could wait on a dead server); otherwise it asks the database
   * for a write (a read-only file, a standby or a read-only connection is not ready).
   */
  async readiness(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const unavailable = (o: Outage) => ({ ok: false as const, reason: `database unavailable since ${new Date(o.since).toISOString()}: ${o.reason}` });
    const known = this.availability.current;
    if (known) return unavailable(known);
    const refused = await this.writeRefusal();
    if (!refused) return { ok: true };
    // This check may be what noticed the outage: then say so as any later check would.
    const outage = this.availability.current;
    return outage ? unavailable(outage) : { ok: false, reason: `database check failed: ${describeUnavailable(refused)}` };
  }

  /**
   * Why a write fails right now, or null: a one-row update of the migration lock table (which
   * Kysely keeps but takes no row lock on, with PostgreSQL's advisory lock and SQLite's single
   * connection), rolled back. A read would pass on a read-only file, a hot standby or a
   * connection set to default_transaction_read_only. On PostgreSQL each probe leaves one dead
   * row version in that one-row table, which autovacuum removes.
   */
  private async writeRefusal(): Promise<Error | null> {
    try {
      await this.db.transaction().execute(async (trx) => {
        await sql`UPDATE herald_migrations_lock SET is_locked = is_locked WHERE id = 'migration_lock'`.execute(trx);
        throw new ProbeRollback();
      });
      return null;
    } catch (err) {
      return err instanceof ProbeRollback ? null : (err as Error);
    }
  }

  /**
   * Rewrites the SQLite file without its free pages and empties the WAL, so values just
   * overwritten (secrets sealed in place) no longer linger in the file's unused space. Costs a
   * full copy of the database: only run after sealing. PostgreSQL: see SECURITY.md (VACUUM marks
   * the space reusable but does not overwrite it).
   */
  async eraseFreedSpace(): Promise<void> {
    if (this.dialect !== 'sqlite') return;
    await sql`VACUUM`.execute(this.db);
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db);
  }

  async close(): Promise<void> {
    this.availability.close();
    await this.db.destroy();
  }
}
