import { Type, type TSchema } from '@sinclair/typebox';
import { ATTEMPT_ERROR_KINDS, DELIVERY_STATUSES } from '../core/model.js';
import { MAX_PAGE_SIZE } from '../store/index.js';

/** JSON schemas shared by the native routes: they validate requests, shape responses and feed OpenAPI. */

export const Nullable = <T extends TSchema>(s: T, options?: { description?: string }) => Type.Union([s, Type.Null()], options);
const Time = Type.String({ format: 'date-time' });
const AnyJson = Type.Unknown();

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.String(), code: Type.Optional(Type.String()) }))),
    }),
  },
  { $id: 'Error' },
);

export const errorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries(statuses.map((s) => [s, { ...Type.Ref('Error'), description: 'Error' }]));

export const PageQuery = {
  cursor: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })),
};

export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const TenantParams = Type.Object({ tid: Type.String() });

export const TenantSchema = Type.Object({ id: Type.String(), name: Type.String(), created_at: Time }, { $id: 'Tenant' });

export const ApiKeySchema = Type.Object(
  { id: Type.String(), tenant_id: Nullable(Type.String()), name: Nullable(Type.String()), prefix: Type.String(), created_at: Time, expires_at: Nullable(Time), revoked_at: Nullable(Time) },
  { $id: 'ApiKey' },
);

export const EventTypeSchema = Type.Object(
  { name: Type.String(), description: Nullable(Type.String()), schema: Nullable(Type.Record(Type.String(), AnyJson)), created_at: Time },
  { $id: 'EventType' },
);

export const EndpointSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Nullable(Type.String()),
    profile: Type.String(),
    event_types: Nullable(Type.Array(Type.String())),
    headers: Type.Record(Type.String(), Type.String(), { description: 'custom request headers; sealed at rest with HERALD_ENCRYPTION_KEY, values masked in lists (in full from the single-endpoint read)' }),
    rate_limit: Nullable(Type.Integer()),
    max_in_flight: Nullable(Type.Integer()),
    fifo: Type.Boolean({ description: 'strict ordering: one delivery at a time, in event order' }),
    timeout_ms: Nullable(Type.Integer()),
    metadata: Type.Record(Type.String(), AnyJson),
    status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
    disabled_reason: Nullable(Type.Union([Type.Literal('manual'), Type.Literal('failing'), Type.Literal('gone')], {
      description: 'manual: by the API; failing: failed without a success for the auto-disable period; gone: the receiver answered 410',
    })),
    disabled_at: Nullable(Time),
    health: Type.Object({
      breaker: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')], {
        description: 'open: deliveries wait instead of being attempted; half_open: one probe delivery is out',
      }),
      breaker_until: Nullable(Time, { description: 'open: when the next probe may go; half_open: when the probe times out' }),
      consecutive_failures: Type.Integer(),
      failing_since: Nullable(Time),
      throttled_until: Nullable(Time, { description: 'the receiver asked (429/503 + Retry-After) for no requests before this time' }),
    }),
    created_at: Time,
    updated_at: Time,
  },
  { $id: 'Endpoint' },
);

export const RecoverySchema = Type.Object(
  {
    id: Type.String(),
    endpoint_id: Type.String(),
    since: Time,
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done')]),
    total: Nullable(Type.Integer({ description: 'failed deliveries found when the job started' })),
    requeued: Type.Integer({ description: 'deliveries re-queued so far (one attempt each)' }),
    created_at: Time,
    updated_at: Time,
    finished_at: Nullable(Time),
  },
  { $id: 'Recovery' },
);

export const EventSchema = Type.Object(
  { id: Type.String(), type: Type.String(), data: AnyJson, idempotency_key: Nullable(Type.String()), environment: Type.String(), created_at: Time },
  { $id: 'Event' },
);

export const DeliveryStatusSchema = Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)));

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    endpoint_id: Type.String(),
    event_type: Type.String(),
    status: DeliveryStatusSchema,
    attempt_count: Type.Integer(),
    throttled_count: Type.Integer({ description: 'attempts answered 429/503 with Retry-After, which did not use up the retry schedule' }),
    next_attempt_at: Nullable(Time),
    first_attempt_at: Nullable(Time),
    last_attempt_at: Nullable(Time),
    last_status_code: Nullable(Type.Integer()),
    last_error_kind: Nullable(Type.String()),
    created_at: Time,
    updated_at: Time,
  },
  { $id: 'Delivery' },
);

export const AttemptSchema = Type.Object(
  {
    id: Type.String(),
    attempt_number: Type.Integer(),
    started_at: Time,
    duration_ms: Type.Integer(),
    url: Type.String(),
    request_headers: Type.Record(Type.String(), Type.String(), { description: "the headers sent; the endpoint's custom header values masked" }),
    response_status: Nullable(Type.Integer()),
    response_body: Nullable(Type.String()),
    error_kind: Nullable(Type.Union(ATTEMPT_ERROR_KINDS.map((k) => Type.Literal(k)))),
    error_message: Nullable(Type.String()),
  },
  { $id: 'Attempt' },
);

export const SHARED_SCHEMAS = [ErrorBody, TenantSchema, ApiKeySchema, EventTypeSchema, EndpointSchema, EventSchema, DeliverySchema, AttemptSchema, RecoverySchema];
