import type { Selectable } from 'kysely';
import type {
  ApiKey, Attempt, AttemptErrorKind, Delivery, DeliveryStatus, Endpoint, EndpointStatus, EventEnvironment,
  EventType, Tenant, WebhookEvent,
} from '../core/model.js';
import type { BreakerState, DisableReason, EndpointHealthState } from '../core/endpoint-health.js';
import type { Recovery, RecoveryStatus } from '../core/model.js';
import type { ApiKeysTable, AttemptsTable, DeliveriesTable, EndpointsTable, EventsTable, EventTypesTable, RecoveriesTable, TenantsTable } from './schema.js';

/** Row ↔ model mapping, in one place. `Number()` because PostgreSQL returns bigint as strings. */

const num = (v: number | string): number => Number(v);
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export const toTenant = (r: Selectable<TenantsTable>): Tenant => ({ id: r.id, name: r.name, createdAt: num(r.created_at) });

export const toApiKey = (r: Selectable<ApiKeysTable>): ApiKey => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  prefix: r.prefix,
  createdAt: num(r.created_at),
  expiresAt: numOrNull(r.expires_at),
  revokedAt: numOrNull(r.revoked_at),
});

export const toEventType = (r: Selectable<EventTypesTable>): EventType => ({
  tenantId: r.tenant_id,
  name: r.name,
  description: r.description,
  schema: r.schema === null ? null : (JSON.parse(r.schema) as Record<string, unknown>),
  createdAt: num(r.created_at),
});

export const toEndpoint = (r: Selectable<EndpointsTable>): Endpoint => ({
  id: r.id,
  tenantId: r.tenant_id,
  url: r.url,
  description: r.description,
  profile: r.profile,
  eventTypes: r.event_types === null ? null : (JSON.parse(r.event_types) as string[]),
  headers: JSON.parse(r.headers) as Record<string, string>,
  rateLimit: r.rate_limit,
  maxInFlight: r.max_in_flight,
  fifo: Number(r.fifo) === 1,
  timeoutMs: r.timeout_ms,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  secret: r.secret,
  status: r.status as EndpointStatus,
  disabledReason: r.disabled_reason as DisableReason | null,
  disabledAt: numOrNull(r.disabled_at),
  health: toHealth(r),
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

export const toHealth = (r: Pick<Selectable<EndpointsTable>, 'consecutive_failures' | 'failing_since' | 'breaker_state' | 'breaker_until' | 'throttled_until'>): EndpointHealthState => ({
  consecutiveFailures: r.consecutive_failures,
  failingSince: numOrNull(r.failing_since),
  breakerState: r.breaker_state as BreakerState,
  breakerUntil: numOrNull(r.breaker_until),
  throttledUntil: numOrNull(r.throttled_until),
});

export const toRecovery = (r: Selectable<RecoveriesTable>): Recovery => ({
  id: r.id,
  tenantId: r.tenant_id,
  endpointId: r.endpoint_id,
  since: num(r.since),
  status: r.status as RecoveryStatus,
  total: r.total,
  requeued: r.requeued,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
  finishedAt: numOrNull(r.finished_at),
});

export const toEvent = (r: Selectable<EventsTable>): WebhookEvent => ({
  id: r.id,
  tenantId: r.tenant_id,
  type: r.type,
  payload: r.payload,
  idempotencyKey: r.idempotency_key,
  environment: r.environment as EventEnvironment,
  createdAt: num(r.created_at),
});

export const toDelivery = (r: Selectable<DeliveriesTable>): Delivery => ({
  id: r.id,
  tenantId: r.tenant_id,
  eventId: r.event_id,
  endpointId: r.endpoint_id,
  eventType: r.event_type,
  status: r.status as DeliveryStatus,
  attemptCount: r.attempt_count,
  throttledCount: r.throttled_count,
  attemptLimit: r.attempt_limit,
  nextAttemptAt: numOrNull(r.next_attempt_at),
  firstAttemptAt: numOrNull(r.first_attempt_at),
  lastAttemptAt: numOrNull(r.last_attempt_at),
  lastStatusCode: r.last_status_code,
  lastErrorKind: r.last_error_kind as AttemptErrorKind | null,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

export const toAttempt = (r: Selectable<AttemptsTable>): Attempt => ({
  id: r.id,
  deliveryId: r.delivery_id,
  tenantId: r.tenant_id,
  endpointId: r.endpoint_id,
  attemptNumber: r.attempt_number,
  startedAt: num(r.started_at),
  durationMs: r.duration_ms,
  url: r.url,
  requestHeaders: JSON.parse(r.request_headers) as Record<string, string>,
  responseStatus: r.response_status,
  responseBody: r.response_body,
  errorKind: r.error_kind as AttemptErrorKind | null,
  errorMessage: r.error_message,
});
