import { toIso } from '../core/clock.js';
import { invalid } from '../core/errors.js';
import { parseInstant } from '../core/input.js';
import { maskHeaders } from '../core/masking.js';
import type { ApiKey, Attempt, Delivery, Endpoint, EventType, Recovery, Tenant, WebhookEvent } from '../core/model.js';

/** Domain → native JSON (snake_case, ISO 8601 times). Secrets are never part of these. */

const iso = (ms: number | null) => (ms === null ? null : toIso(ms));

export const presentTenant = (t: Tenant) => ({ id: t.id, name: t.name, created_at: toIso(t.createdAt) });

export const presentApiKey = (k: ApiKey) => ({
  id: k.id, tenant_id: k.tenantId, name: k.name, prefix: k.prefix,
  created_at: toIso(k.createdAt), expires_at: iso(k.expiresAt), revoked_at: iso(k.revokedAt),
});

export const presentEventType = (t: EventType) => ({ name: t.name, description: t.description, schema: t.schema, created_at: toIso(t.createdAt) });

/** One endpoint, custom header values in full (its own read, create and update). */
export const presentEndpoint = (e: Endpoint, opts: { maskHeaders?: boolean } = {}) => ({
  id: e.id, url: e.url, description: e.description, profile: e.profile, event_types: e.eventTypes,
  headers: opts.maskHeaders ? maskHeaders(e.headers) : e.headers, rate_limit: e.rateLimit, max_in_flight: e.maxInFlight, fifo: e.fifo, timeout_ms: e.timeoutMs,
  metadata: e.metadata, status: e.status, disabled_reason: e.disabledReason, disabled_at: iso(e.disabledAt),
  health: {
    breaker: e.health.breakerState, breaker_until: iso(e.health.breakerUntil), consecutive_failures: e.health.consecutiveFailures,
    failing_since: iso(e.health.failingSince), throttled_until: iso(e.health.throttledUntil),
  },
  created_at: toIso(e.createdAt), updated_at: toIso(e.updatedAt),
});

/** An endpoint in a list: custom header values masked, as they often carry the receiver's credentials. */
export const presentListedEndpoint = (e: Endpoint) => presentEndpoint(e, { maskHeaders: true });

export const presentRecovery = (r: Recovery) => ({
  id: r.id, endpoint_id: r.endpointId, since: toIso(r.since), status: r.status, total: r.total, requeued: r.requeued,
  created_at: toIso(r.createdAt), updated_at: toIso(r.updatedAt), finished_at: iso(r.finishedAt),
});

export const presentEvent = (e: WebhookEvent) => ({
  id: e.id, type: e.type, data: JSON.parse(e.payload) as unknown, idempotency_key: e.idempotencyKey,
  environment: e.environment, created_at: toIso(e.createdAt),
});

export const presentDelivery = (d: Delivery) => ({
  id: d.id, event_id: d.eventId, endpoint_id: d.endpointId, event_type: d.eventType, status: d.status,
  attempt_count: d.attemptCount, throttled_count: d.throttledCount,
  // While delivering, next_attempt_at holds the lease expiry: not a scheduled attempt.
  next_attempt_at: d.status === 'delivering' ? null : iso(d.nextAttemptAt),
  first_attempt_at: iso(d.firstAttemptAt), last_attempt_at: iso(d.lastAttemptAt),
  last_status_code: d.lastStatusCode, last_error_kind: d.lastErrorKind,
  created_at: toIso(d.createdAt), updated_at: toIso(d.updatedAt),
});

export const presentAttempt = (a: Attempt) => ({
  id: a.id, attempt_number: a.attemptNumber, started_at: toIso(a.startedAt), duration_ms: a.durationMs, url: a.url,
  request_headers: a.requestHeaders, response_status: a.responseStatus, response_body: a.responseBody,
  error_kind: a.errorKind, error_message: a.errorMessage,
});

/** Parses an RFC 3339 date-time (or bare date) query value; undefined when absent. */
export function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseInstant(value);
  if (ms === null) throw invalid(field, `${field} must be a real RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z`, 'INVALID_FORMAT');
  return ms;
}
