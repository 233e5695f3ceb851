import type { Kysely, Selectable, Updateable } from 'kysely';
import type { DisableReason } from '../core/endpoint-health.js';
import type { Endpoint, EndpointStatus } from '../core/model.js';
import { toPage, type Page } from './page.js';
import type { DialectName } from './connect.js';
import { scheduleNextOrdered } from './fifo.js';
import { inIds } from './id-list.js';
import { toEndpoint } from './rows.js';
import type { Database, EndpointsTable } from './schema.js';
import { SEALED_PREFIX, SecretBox } from './secret-box.js';
import { notifyDue } from './wake.js';

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  eventTypes?: string[] | null;
  headers?: Record<string, string>;
  rateLimit?: number | null;
  maxInFlight?: number | null;
  timeoutMs?: number | null;
  fifo?: boolean;
  metadata?: Record<string, unknown>;
  status?: EndpointStatus;
  secret?: string;
}

/** What the delivery worker needs of an endpoint, including the secrets still honoured after a rotation. */
export interface DispatchEndpoint extends Endpoint {
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  deleted: boolean;
}

const NO_HEADERS = '{}';

export class EndpointRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretBox = SecretBox.plaintext(),
    private readonly dialect: DialectName = 'sqlite',
    /** PostgreSQL: where re-enabling an endpoint announces its resumed deliveries. */
    private readonly dueChannel?: string,
  ) {}

  /** A row as the rest of Herald sees it: the secret and custom headers opened. */
  private toEndpoint = (r: Selectable<EndpointsTable>): Endpoint => ({ ...toEndpoint({ ...r, headers: this.secrets.open(r.headers) }), secret: this.secrets.open(r.secret) });

  /**
   * Custom headers at rest: the JSON object sealed whole (names too) with a key, as secrets are,
   * since they often carry the receiver's credentials. No headers stay `{}`.
   */
  private sealHeaders(headers: Record<string, string>): string {
    const json = JSON.stringify(headers);
    return json === NO_HEADERS ? json : this.secrets.seal(json);
  }

  /**
   * Opens one sealed value, so that a missing or wrong HERALD_ENCRYPTION_KEY stops start-up with
   * one line instead of failing every list, publish and delivery afterwards.
   */
  async checkEncryptionKey(): Promise<void> {
    const sealed = `${SEALED_PREFIX}%`;
    const row = await this.db.selectFrom('endpoints').select(['secret', 'headers'])
      .where((eb) => eb.or([eb('secret', 'like', sealed), eb('headers', 'like', sealed)])).limit(1).executeTakeFirst();
    if (!row) return;
    if (!this.secrets.encrypts) {
      throw new Error('HERALD_ENCRYPTION_KEY is not set, but this store holds endpoint secrets sealed with a key: set it to the key they were sealed with');
    }
    try {
      this.secrets.open(row.secret);
      this.secrets.open(row.headers);
    } catch (err) {
      throw new Error('HERALD_ENCRYPTION_KEY does not open the endpoint secrets sealed in this store: set it to the key they were sealed with', { cause: err });
    }
  }

  private toDispatchEndpoint = (r: Selectable<EndpointsTable>): DispatchEndpoint => ({
    ...this.toEndpoint(r),
    previousSecret: this.secrets.open(r.previous_secret),
    previousSecretExpiresAt: r.previous_secret_expires_at === null ? null : Number(r.previous_secret_expires_at),
    deleted: r.deleted_at !== null,
  });

  /**
   * Seals every secret and custom header set still stored in the clear (after HERALD_ENCRYPTION_KEY
   * was set); returns how many endpoints it sealed. The plaintext they replace is left in the
   * file's free space until `Store.eraseFreedSpace`.
   */
  async sealPlaintextSecrets(): Promise<number> {
    if (!this.secrets.encrypts) return 0;
    // Only rows still in the clear are read: a start with everything sealed writes nothing.
    const clear = `${SEALED_PREFIX}%`;
    const rows = await this.db.selectFrom('endpoints').select(['id', 'secret', 'previous_secret', 'headers'])
      .where((eb) => eb.or([
        eb('secret', 'not like', clear),
        eb.and([eb('previous_secret', 'is not', null), eb('previous_secret', 'not like', clear)]),
        eb.and([eb('headers', '!=', NO_HEADERS), eb('headers', 'not like', clear)]),
      ]))
      .execute();
    let sealed = 0;
    for (const r of rows) {
      await this.db.updateTable('endpoints')
        .set({
          secret: this.secrets.seal(r.secret),
          previous_secret: r.previous_secret === null ? null : this.secrets.seal(r.previous_secret),
          headers: r.headers === NO_HEADERS ? r.headers : this.secrets.seal(r.headers),
        })
        .where('id', '=', r.id).where('secret', '=', r.secret).where('headers', '=', r.headers).execute();
      sealed++;
    }
    return sealed;
  }

  async insert(e: Endpoint): Promise<Endpoint> {
    await this.insertQuery(e).execute();
    return e;
  }

  /** Inserts unless an endpoint with its id exists (created concurrently); returns whether it did. */
  async insertIfAbsent(e: Endpoint): Promise<boolean> {
    const res = await this.insertQuery(e).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  private insertQuery(e: Endpoint) {
    return this.db
      .insertInto('endpoints')
      .values({
        id: e.id,
        tenant_id: e.tenantId,
        url: e.url,
        description: e.description,
        profile: e.profile,
        event_types: e.eventTypes === null ? null : JSON.stringify(e.eventTypes),
        headers: this.sealHeaders(e.headers),
        rate_limit: e.rateLimit,
        max_in_flight: e.maxInFlight,
        timeout_ms: e.timeoutMs,
        fifo: e.fifo ? 1 : 0,
        metadata: JSON.stringify(e.metadata),
        secret: this.secrets.seal(e.secret),
        previous_secret: null,
        previous_secret_expires_at: null,
        status: e.status,
        disabled_reason: e.disabledReason,
        disabled_at: e.disabledAt,
        created_at: e.createdAt,
        updated_at: e.updatedAt,
        deleted_at: null,
      });
  }

  async get(tenantId: string, id: string): Promise<Endpoint | undefined> {
    const row = await this.live(tenantId).where('id', '=', id).executeTakeFirst();
    return row && this.toEndpoint(row);
  }

  async list(tenantId: string, opts: { cursor?: string; offset?: number; limit: number; profile?: string }): Promise<Page<Endpoint>> {
    let q = this.live(tenantId);
    if (opts.cursor) q = q.where('id', '<', opts.cursor);
    if (opts.profile) q = q.where('profile', '=', opts.profile);
    // Each mode sorts by its own key: a cursor is an id (compat-profile ids are random, not
    // time-ordered, so only id order makes `id < cursor` page correctly); page numbers read newest first.
    q = opts.offset !== undefined ? q.orderBy('created_at', 'desc').orderBy('id', 'desc').offset(opts.offset) : q.orderBy('id', 'desc');
    const rows = await q.limit(opts.limit + 1).execute();
    return toPage(rows.map(this.toEndpoint), opts.limit);
  }

  async count(tenantId: string, profile?: string): Promise<number> {
    let q = this.db.selectFrom('endpoints').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).where('deleted_at', 'is', null);
    if (profile) q = q.where('profile', '=', profile);
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Applies a patch. Disabling parks the endpoint's waiting deliveries (no next attempt) so workers
   * stop picking them up; enabling puts them back in the queue, due now.
   */
  async update(tenantId: string, id: string, patch: EndpointPatch, now: number): Promise<Endpoint | undefined> {
    const set: Updateable<EndpointsTable> = { updated_at: now };
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.eventTypes !== undefined) set.event_types = patch.eventTypes === null ? null : JSON.stringify(patch.eventTypes);
    if (patch.headers !== undefined) set.headers = this.sealHeaders(patch.headers);
    if (patch.rateLimit !== undefined) set.rate_limit = patch.rateLimit;
    if (patch.maxInFlight !== undefined) set.max_in_flight = patch.maxInFlight;
    if (patch.timeoutMs !== undefined) set.timeout_ms = patch.timeoutMs;
    if (patch.fifo !== undefined) set.fifo = patch.fifo ? 1 : 0;
    if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
    if (patch.secret !== undefined) set.secret = this.secrets.seal(patch.secret);
    return this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('endpoints').select('status').where('tenant_id', '=', tenantId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (!current) return undefined;
      await trx.updateTable('endpoints').set(set).where('id', '=', id).execute();
      if (patch.status !== undefined && patch.status !== current.status) {
        await setEndpointStatus(trx, id, patch.status === 'disabled' ? 'manual' : null, now);
        // Its parked deliveries are due again: wake workers in other processes too.
        if (patch.status === 'enabled') await notifyDue(trx, this.dueChannel);
      }
      const row = await trx.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return this.toEndpoint(row);
    });
  }

  /** Replaces the secret; the old one stays valid for signing until `graceUntil` (Standard Webhooks allows several signatures). */
  async rotateSecret(tenantId: string, id: string, secret: string, graceUntil: number, now: number): Promise<Endpoint | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('endpoints').select('secret').where('tenant_id', '=', tenantId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (!current) return undefined;
      await trx.updateTable('endpoints')
        .set({ secret: this.secrets.seal(secret), previous_secret: current.secret, previous_secret_expires_at: graceUntil, updated_at: now })
        .where('id', '=', id).execute();
      return this.toEndpoint(await trx.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    });
  }

  /** Removes the endpoint from the API; its unfinished deliveries end as failed. The log stays. */
  async delete(tenantId: string, id: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx.updateTable('endpoints').set({ deleted_at: now, status: 'disabled', updated_at: now })
        .where('tenant_id', '=', tenantId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await trx.updateTable('deliveries').set({ status: 'failed', next_attempt_at: null, lease_owner: null, updated_at: now })
        .where('endpoint_id', '=', id).where('status', 'in', ['pending', 'retrying']).execute();
      return true;
    });
  }

  /** Endpoints of a tenant that receive new events, for fan-out (as the worker needs them: a publish may hand its deliveries straight to it). */
  async listEnabled(tenantId: string): Promise<DispatchEndpoint[]> {
    const rows = await this.live(tenantId).where('status', '=', 'enabled').execute();
    return rows.map(this.toDispatchEndpoint);
  }

  /** By id regardless of tenant: only for the delivery worker, which got the ids from claimed deliveries. */
  async getForDispatch(ids: readonly string[]): Promise<Map<string, DispatchEndpoint>> {
    const out = new Map<string, DispatchEndpoint>();
    if (ids.length === 0) return out;
    const rows = await this.db.selectFrom('endpoints').selectAll().where(inIds(this.dialect, 'id', ids)).execute();
    for (const r of rows) out.set(r.id, this.toDispatchEndpoint(r));
    return out;
  }

  /**
   * Takes the breaker's single probe once its cool-down is over: whoever flips the endpoint to
   * half-open first (across all workers) sends one delivery; the others keep waiting until `until`.
   */
  async tryClaimProbe(id: string, now: number, until: number): Promise<boolean> {
    const res = await this.db.updateTable('endpoints').set({ breaker_state: 'half_open', breaker_until: until })
      .where('id', '=', id).where('breaker_state', 'in', ['open', 'half_open'])
      .where((eb) => eb.or([eb('breaker_until', 'is', null), eb('breaker_until', '<=', now)]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  private live(tenantId: string) {
    return this.db.selectFrom('endpoints').selectAll().where('tenant_id', '=', tenantId).where('deleted_at', 'is', null);
  }
}

/**
 * Enables (reason null) or disables an endpoint, inside the caller's transaction. Disabling parks its
 * waiting deliveries (no next attempt) so workers stop picking them up; enabling starts afresh:
 * health reset, parked deliveries due now.
 */
export async function setEndpointStatus(trx: Kysely<Database>, id: string, disabledReason: DisableReason | null, now: number): Promise<void> {
  if (disabledReason !== null) {
    await trx.updateTable('endpoints').set({ status: 'disabled', disabled_reason: disabledReason, disabled_at: now, updated_at: now }).where('id', '=', id).execute();
    await trx.updateTable('deliveries').set({ next_attempt_at: null, updated_at: now })
      .where('endpoint_id', '=', id).where('status', 'in', ['pending', 'retrying']).where('next_attempt_at', 'is not', null).execute();
  } else {
    await trx.updateTable('endpoints').set({
      status: 'enabled', disabled_reason: null, disabled_at: null, updated_at: now,
      consecutive_failures: 0, failing_since: null, breaker_state: 'closed', breaker_until: null, throttled_until: null,
    }).where('id', '=', id).execute();
    await trx.updateTable('deliveries').set({ next_attempt_at: now, updated_at: now })
      .where('endpoint_id', '=', id).where('status', 'in', ['pending', 'retrying']).where('next_attempt_at', 'is', null).where('ordered', '=', 0).execute();
    await scheduleNextOrdered(trx, id, now);
  }
}
