import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { toIso } from '../core/clock.js';
import { HEALTHY } from '../core/endpoint-health.js';
import { HeraldError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { standardProfile } from '../core/profiles/standard.js';
import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import type { DisabledEndpoint } from '../store/queue.js';
import type { Database } from '../store/schema.js';

/** The tenant and endpoint that receive Herald's own operational events (native profile, Standard Webhooks signed). */
export const OPERATOR_TENANT_ID = 'org_herald_operator';
export const OPERATOR_ENDPOINT_ID = 'ep_herald_operator';
export const ENDPOINT_DISABLED = 'endpoint.disabled';

/**
 * Operational events: what Herald tells the operator about itself. They are ordinary events of a
 * reserved tenant, so they go through the same durable outbox, retries and delivery log as any
 * other webhook, and are written in the transaction that made the change they report.
 */
export class OperationalEvents {
  constructor(private readonly store: Store, private readonly config: Config, private readonly logger?: Pick<Logger, 'error'>) {}

  /**
   * Creates or updates the operator tenant and endpoint from the configuration (idempotent; any
   * process may run it, several at once). A failure is logged, not fatal: Herald runs without its
   * own reports, and the next start tries again.
   */
  async ensureOperatorEndpoint(now: number): Promise<void> {
    const url = this.config.operatorWebhookUrl;
    if (!url) return;
    try {
      await this.upsertOperatorEndpoint(url, now);
    } catch (err) {
      this.logger?.error({ err, url }, 'could not create the operator endpoint (HERALD_OPERATOR_WEBHOOK_URL): operational events are not reported until a restart succeeds');
    }
  }

  private async upsertOperatorEndpoint(url: string, now: number): Promise<void> {
    const { tenants, endpoints } = this.store;
    if (!(await tenants.get(OPERATOR_TENANT_ID))) {
      // Only "already exists" (another process won the race) is expected here.
      await tenants.create(OPERATOR_TENANT_ID, 'Herald operator', now).catch((err: unknown) => {
        if (!(err instanceof HeraldError && err.code === 'conflict')) throw err;
      });
    }
    const existing = await endpoints.get(OPERATOR_TENANT_ID, OPERATOR_ENDPOINT_ID);
    const secret = this.config.operatorWebhookSecret;
    if (!existing) {
      // Not inserted = another process just did: that one stands.
      await endpoints.insertIfAbsent({
        id: OPERATOR_ENDPOINT_ID, tenantId: OPERATOR_TENANT_ID, url, description: 'Herald operational events', profile: standardProfile.name,
        eventTypes: null, headers: {}, rateLimit: null, maxInFlight: null, fifo: false, timeoutMs: null, metadata: {},
        secret: secret ?? standardProfile.generateSecret(), status: 'enabled', disabledReason: null, disabledAt: null, health: HEALTHY,
        createdAt: now, updatedAt: now,
      });
    } else if (existing.url !== url || (secret !== undefined && existing.secret !== secret) || existing.status !== 'enabled') {
      await endpoints.update(OPERATOR_TENANT_ID, OPERATOR_ENDPOINT_ID, { url, status: 'enabled', ...(secret ? { secret } : {}) }, now);
    }
  }

  /** Reports disabled endpoints to the operator endpoint, when one is configured (the worker logs them either way). */
  readonly endpointsDisabled = async (trx: Kysely<Database>, disabled: readonly DisabledEndpoint[], now: number): Promise<void> => {
    const items = [];
    for (const d of disabled) {
      if (!this.config.operatorWebhookUrl || d.id === OPERATOR_ENDPOINT_ID) continue;
      const data = {
        endpoint_id: d.id, tenant_id: d.tenantId, url: d.url, reason: d.reason,
        failing_since: d.failingSince === null ? null : toIso(d.failingSince), disabled_at: toIso(now),
      };
      items.push({
        event: {
          id: newId('evt', now), tenantId: OPERATOR_TENANT_ID, type: ENDPOINT_DISABLED, payload: JSON.stringify(data),
          idempotencyKey: null, environment: 'live' as const, createdAt: now,
        },
        deliveries: [{ id: standardProfile.newDeliveryId(), endpointId: OPERATOR_ENDPOINT_ID }],
      });
    }
    if (items.length > 0) await this.store.events.insertIn(trx, items, now);
  };
}
