/** Runtime configuration: every setting is an environment variable and a `herald serve` flag. */
export interface Config {
  port: number;
  host: string;
  /** Unset = SQLite file ./data/herald.db. */
  databaseUrl: string | undefined;
  /** Accepted as an admin API key when set (bootstrap for scripts and tests). */
  adminKey: string | undefined;
  /** Allow endpoint URLs on loopback/private networks (development and tests only). */
  allowPrivateNetworks: boolean;
  /** CIDRs allowed even when private networks are not. */
  allowCidrs: string[];
  logLevel: string;
  /** Attempts in flight at once per process. */
  workerConcurrency: number;
  /** Threads that send attempts (HTTP work off the worker's event loop); 0 sends from the main thread. */
  deliveryThreads: number;
  /** Whether this process runs the delivery worker. */
  runWorker: boolean;
  /** Whether this process serves the HTTP API (false for `--role worker`). */
  runApi: boolean;
  /** How long a worker's claim on a delivery lasts without renewal (renewed every third of it); 0 = 30 s. */
  leaseMs: number;
  /** Default attempt timeout, and the most an endpoint's own `timeout_ms` may be. */
  attemptTimeoutMs: number;
  /** Attempts in flight at once per endpoint per worker process, unless the endpoint sets `max_in_flight`. */
  endpointMaxInFlight: number;
  /** Consecutive failures that open an endpoint's circuit breaker. */
  breakerThreshold: number;
  /** How long an open breaker holds deliveries before one probe, ms. */
  breakerCooldownMs: number;
  /** Failing without a success for this long disables an endpoint, ms; 0 = never. */
  autoDisableAfterMs: number;
  /** Where operational events (endpoint.disabled) are delivered; unset = only logged. */
  operatorWebhookUrl: string | undefined;
  /** Standard Webhooks secret (whsec_…) for the operator endpoint; generated when unset. */
  operatorWebhookSecret: string | undefined;
  /** Events, deliveries and attempts older than this are deleted, days; 0 = keep forever. */
  retentionDays: number;
  /** 32-byte key (hex or base64) sealing endpoint secrets at rest with AES-256-GCM; unset = stored as given. */
  encryptionKey: string | undefined;
  /** HTTP proxy every webhook is sent through (CONNECT), e.g. an egress proxy; unset = direct. */
  outboundProxy: string | undefined;
  /** API requests per second allowed per API key (or JWT user, or client address when unauthenticated), per process; 0 = no limit. */
  apiRateLimit: number;
  /** Largest accepted event payload (`data` as JSON), bytes. */
  maxPayloadBytes: number;
  /** How long a rotated-out secret keeps signing (native profile), ms. */
  secretRotationGraceMs: number;
  /** HS256 key for JWTs on the Screenshot API surface. */
  jwtSecret: string | undefined;
  /** PEM public key (RS256/ES256) for JWTs on the Screenshot API surface. */
  jwtPublicKey: string | undefined;
}

const bool = (v: string | undefined, fallback: boolean): boolean =>
  v === undefined || v === '' ? fallback : ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer (got "${v}")`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const base: Config = {
    port: int('PORT', env.PORT, 8080),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || undefined,
    adminKey: env.HERALD_ADMIN_KEY || undefined,
    allowPrivateNetworks: bool(env.HERALD_ALLOW_PRIVATE_NETWORKS, false),
    allowCidrs: (env.HERALD_ALLOW_CIDRS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: env.HERALD_LOG_LEVEL || 'info',
    workerConcurrency: int('HERALD_WORKER_CONCURRENCY', env.HERALD_WORKER_CONCURRENCY, 64),
    deliveryThreads: int('HERALD_DELIVERY_THREADS', env.HERALD_DELIVERY_THREADS, 1),
    runWorker: bool(env.HERALD_WORKER, true),
    runApi: true,
    leaseMs: int('HERALD_LEASE_MS', env.HERALD_LEASE_MS, 0),
    attemptTimeoutMs: int('HERALD_ATTEMPT_TIMEOUT_MS', env.HERALD_ATTEMPT_TIMEOUT_MS, 30_000),
    endpointMaxInFlight: int('HERALD_ENDPOINT_MAX_IN_FLIGHT', env.HERALD_ENDPOINT_MAX_IN_FLIGHT, 10),
    breakerThreshold: int('HERALD_BREAKER_THRESHOLD', env.HERALD_BREAKER_THRESHOLD, 10),
    breakerCooldownMs: int('HERALD_BREAKER_COOLDOWN_MS', env.HERALD_BREAKER_COOLDOWN_MS, 60_000),
    autoDisableAfterMs: int('HERALD_AUTO_DISABLE_AFTER_MS', env.HERALD_AUTO_DISABLE_AFTER_MS, 5 * 24 * 3600 * 1000),
    operatorWebhookUrl: env.HERALD_OPERATOR_WEBHOOK_URL || undefined,
    operatorWebhookSecret: env.HERALD_OPERATOR_WEBHOOK_SECRET || undefined,
    retentionDays: int('HERALD_RETENTION_DAYS', env.HERALD_RETENTION_DAYS, 30),
    encryptionKey: env.HERALD_ENCRYPTION_KEY || undefined,
    outboundProxy: env.HERALD_OUTBOUND_PROXY || undefined,
    apiRateLimit: int('HERALD_API_RATE_LIMIT', env.HERALD_API_RATE_LIMIT, 1000),
    maxPayloadBytes: int('HERALD_MAX_PAYLOAD_BYTES', env.HERALD_MAX_PAYLOAD_BYTES, 256 * 1024),
    secretRotationGraceMs: int('HERALD_SECRET_ROTATION_GRACE_MS', env.HERALD_SECRET_ROTATION_GRACE_MS, 24 * 3600 * 1000),
    jwtSecret: env.HERALD_JWT_SECRET || undefined,
    jwtPublicKey: env.HERALD_JWT_PUBLIC_KEY || undefined,
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined };
}
