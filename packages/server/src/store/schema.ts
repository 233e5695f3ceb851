/**
 * Table types as stored. Times are epoch milliseconds (bigint), JSON is text: both mean the
 * same thing on SQLite and PostgreSQL, so one set of queries serves both dialects.
 */

import type { Generated } from 'kysely';

type Millis = number;

export interface TenantsTable {
  id: string;
  name: string;
  created_at: Millis;
  deleted_at: Millis | null;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string | null;
  name: string | null;
  prefix: string;
  key_hash: string;
  created_at: Millis;
  expires_at: Millis | null;
  revoked_at: Millis | null;
}

export interface EventTypesTable {
  tenant_id: string;
  name: string;
  description: string | null;
  schema: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface EndpointsTable {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  profile: string;
  event_types: string | null;
  headers: string;
  rate_limit: number | null;
  max_in_flight: number | null;
  /** 1: deliveries go out one at a time, in event order. */
  fifo: Generated<number>;
  timeout_ms: number | null;
  metadata: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Millis | null;
  status: string;
  consecutive_failures: Generated<number>;
  failing_since: Millis | null;
  breaker_state: Generated<string>;
  breaker_until: Millis | null;
  throttled_until: Millis | null;
  disabled_reason: string | null;
  disabled_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
  deleted_at: Millis | null;
}

export interface EventsTable {
  id: string;
  tenant_id: string;
  type: string;
  payload: string;
  idempotency_key: string | null;
  environment: string;
  created_at: Millis;
}

export interface DeliveriesTable {
  id: string;
  tenant_id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: string;
  attempt_count: number;
  throttled_count: Generated<number>;
  attempt_limit: number | null;
  next_attempt_at: Millis | null;
  lease_owner: string | null;
  first_attempt_at: Millis | null;
  last_attempt_at: Millis | null;
  last_status_code: number | null;
  last_error_kind: string | null;
  created_at: Millis;
  updated_at: Millis;
  /** 1: copied from a FIFO endpoint; the claim takes it only when no earlier delivery to it is unfinished. */
  ordered: Generated<number>;
}

export interface AttemptsTable {
  id: string;
  delivery_id: string;
  tenant_id: string;
  endpoint_id: string;
  attempt_number: number;
  started_at: Millis;
  duration_ms: number;
  url: string;
  request_headers: string;
  response_status: number | null;
  response_body: string | null;
  error_kind: string | null;
  error_message: string | null;
}

export interface RecoveriesTable {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  since: Millis;
  status: string;
  total: number | null;
  requeued: number;
  lease_owner: string | null;
  lease_until: Millis | null;
  created_at: Millis;
  updated_at: Millis;
  finished_at: Millis | null;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  event_types: EventTypesTable;
  endpoints: EndpointsTable;
  events: EventsTable;
  deliveries: DeliveriesTable;
  attempts: AttemptsTable;
  recoveries: RecoveriesTable;
}
