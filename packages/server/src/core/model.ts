/** Domain records as the core sees them: times are epoch milliseconds, JSON is parsed. */

import type { DisableReason, EndpointHealthState } from './endpoint-health.js';

export interface Tenant {
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKey {
  id: string;
  /** null = admin key (acts on every tenant). */
  tenantId: string | null;
  name: string | null;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface EventType {
  tenantId: string;
  name: string;
  description: string | null;
  schema: Record<string, unknown> | null;
  createdAt: number;
}

export type EndpointStatus = 'enabled' | 'disabled';

export interface Endpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  profile: string;
  /** null = subscribed to every event type. */
  eventTypes: string[] | null;
  headers: Record<string, string>;
  /** Deliveries per second; null = unlimited. */
  rateLimit: number | null;
  /** Attempts in flight at once per worker process; null = the server default. */
  maxInFlight: number | null;
  /** Strict ordering: one delivery at a time, in event order; the next waits for the previous to finish. */
  fifo: boolean;
  /** Attempt timeout in ms; null = the server default. */
  timeoutMs: number | null;
  metadata: Record<string, unknown>;
  secret: string;
  status: EndpointStatus;
  /** Why it is disabled (null while enabled). */
  disabledReason: DisableReason | null;
  disabledAt: number | null;
  health: EndpointHealthState;
  createdAt: number;
  updatedAt: number;
}

/** `live` events come from the publish API; `test` events from an endpoint's test route. */
export type EventEnvironment = 'live' | 'test';

export interface WebhookEvent {
  id: string;
  tenantId: string;
  type: string;
  /** The event's data exactly as published, as JSON text: envelopes embed it without re-serialising. */
  payload: string;
  idempotencyKey: string | null;
  environment: EventEnvironment;
  createdAt: number;
}

export const DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'retrying', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** Statuses a worker may still pick up (delivering only once its lease has expired). */
export const ACTIVE_STATUSES: readonly DeliveryStatus[] = ['pending', 'retrying', 'delivering'];

export interface Delivery {
  id: string;
  tenantId: string;
  eventId: string;
  endpointId: string;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  /** Attempts answered with a throttling signal, which do not use up the schedule. */
  throttledCount: number;
  /** Set by a manual replay: no attempt after this number. */
  attemptLimit: number | null;
  /** When the next attempt is due; while delivering, when the lease expires; null once terminal. */
  nextAttemptAt: number | null;
  firstAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastErrorKind: AttemptErrorKind | null;
  createdAt: number;
  updatedAt: number;
}

export const ATTEMPT_ERROR_KINDS = ['timeout', 'connection', 'dns', 'tls', 'http', 'blocked', 'invalid_url'] as const;
export type AttemptErrorKind = (typeof ATTEMPT_ERROR_KINDS)[number];

export interface Attempt {
  id: string;
  deliveryId: string;
  tenantId: string;
  endpointId: string;
  attemptNumber: number;
  startedAt: number;
  durationMs: number;
  url: string;
  requestHeaders: Record<string, string>;
  responseStatus: number | null;
  responseBody: string | null;
  errorKind: AttemptErrorKind | null;
  errorMessage: string | null;
}

export type RecoveryStatus = 'queued' | 'running' | 'done';

/** A background job re-queueing an endpoint's failed deliveries created since a time. */
export interface Recovery {
  id: string;
  tenantId: string;
  endpointId: string;
  since: number;
  status: RecoveryStatus;
  /** Failed deliveries found when the job started; null while queued. */
  total: number | null;
  requeued: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}
