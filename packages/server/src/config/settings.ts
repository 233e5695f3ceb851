import { bool, cidrList, databaseUrl, httpUrl, int, key32, oneOf, pemPublicKey, standardSecret, text, type Parser } from './parsers.js';

/** Which process roles read a setting (`herald serve --role all` reads both). */
export type RoleName = 'api' | 'worker';

export interface Setting<T> {
  /** The environment variable. */
  env: string;
  /** The `herald serve` flag, if any (`--name <value>`; booleans: `--name [bool]`). */
  flag?: string;
  /** The value when neither the flag nor the variable is set; undefined = unset. */
  default: T;
  /** How the default reads in docs, when the value alone would not say it well. */
  defaultText?: string;
  parse: Parser<T>;
  roles: readonly RoleName[];
  /** One line for the README's table and `herald config`. */
  doc: string;
  /** Never printed: `herald config` and logs show only that it is set. */
  secret?: boolean;
}

const optional = <T>(s: Omit<Setting<T | undefined>, 'default'>): Setting<T | undefined> => ({ ...s, default: undefined });

const BOTH = ['api', 'worker'] as const;
const API = ['api'] as const;
const WORKER = ['worker'] as const;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Every setting Herald reads, each with its one default. The order here is the README's order.
 * Nothing else in the code reads `process.env` for settings (a test checks it).
 */
export const SETTINGS = {
  port: { env: 'PORT', flag: '--port <n>', default: 8080, parse: int(0, 65535), roles: API, doc: 'port to listen on (`0` picks a free one)' },
  host: { env: 'HOST', flag: '--host <host>', default: '127.0.0.1', parse: text, roles: API, doc: 'interface to listen on (`0.0.0.0` to expose)' },
  role: {
    env: 'HERALD_ROLE', flag: '--role <role>', default: 'all' as const, parse: oneOf(['all', 'api', 'worker'] as const), roles: BOTH,
    doc: '`api`: serve the API only; `worker`: deliver only (no HTTP port); `all`: both',
  },
  worker: {
    env: 'HERALD_WORKER', flag: '--no-worker', default: true, parse: bool, roles: BOTH,
    doc: 'run the delivery worker in this process (`--no-worker` or `false` = `--role api`)',
  },
  databaseUrl: optional({
    env: 'DATABASE_URL', flag: '--database-url <url>', defaultText: 'SQLite `./data/herald.db`', parse: databaseUrl, roles: BOTH,
    doc: 'the store: a SQLite file (its folder is created) or PostgreSQL (schema default `public`, created if missing); migrations run on start',
  }),
  pgPoolSize: { env: 'HERALD_PG_POOL_SIZE', default: 10, parse: int(1, 1000), roles: BOTH, doc: 'PostgreSQL connections per process' },
  pgPreparedStatements: {
    env: 'HERALD_PG_PREPARED_STATEMENTS', default: true, parse: bool, roles: BOTH,
    doc: 'send repeated statements as server-side prepared statements (parsed and planned once per connection); `false` for PgBouncer in transaction mode before 1.21',
  },
  sqliteSynchronous: {
    env: 'HERALD_SQLITE_SYNCHRONOUS', default: 'NORMAL' as const, parse: oneOf(['NORMAL', 'FULL'] as const, true), roles: BOTH,
    doc: '`FULL` to survive power loss, not only process crashes, at some write cost',
  },
  adminKey: optional({ env: 'HERALD_ADMIN_KEY', flag: '--admin-key <key>', parse: text, roles: API, secret: true, doc: 'accepted as an admin API key (bootstrap for scripts and tests)' }),
  allowPrivateNetworks: {
    env: 'HERALD_ALLOW_PRIVATE_NETWORKS', flag: '--allow-private-networks [bool]', default: false, parse: bool, roles: BOTH,
    doc: 'allow endpoint URLs on loopback/private networks; development and tests only. The API checks URLs when they are saved, the worker again at every connect',
  },
  allowCidrs: { env: 'HERALD_ALLOW_CIDRS', default: [] as string[], defaultText: 'empty', parse: cidrList, roles: BOTH, doc: 'CIDRs allowed even when private networks are not (specific internal targets)' },
  workerConcurrency: {
    env: 'HERALD_WORKER_CONCURRENCY', flag: '--concurrency <n>', default: 64, parse: int(1, 100_000), roles: WORKER,
    doc: 'active slots per process: attempts in flight to endpoints that answer quickly, each counted until it finishes or turns `HERALD_SLOW_ATTEMPT_MS` old',
  },
  workerMaxWaiting: {
    env: 'HERALD_WORKER_MAX_WAITING', default: 1000, parse: int(1, 100_000), roles: WORKER,
    doc: "waiting slots per process: attempts in flight to endpoints that are new to the process, slow or timing out, and those that outgrew an active slot; bounds the process's sockets and memory (attempts beyond it stay queued)",
  },
  slowAttemptMs: {
    env: 'HERALD_SLOW_ATTEMPT_MS', default: 1000, parse: int(10, 900_000), roles: WORKER,
    doc: 'an attempt open this long moves from an active slot to a waiting one, and its endpoint to the waiting slots until it answers faster',
  },
  deliveryThreads: {
    env: 'HERALD_DELIVERY_THREADS', default: 1, parse: int(0, 16), roles: WORKER,
    doc: 'threads that send the HTTP requests beside the event loop that claims and records deliveries (`0` sends from the main thread)',
  },
  leaseMs: {
    env: 'HERALD_LEASE_MS', default: 30_000, parse: int(1000, 3_600_000), roles: WORKER,
    doc: "how long a worker's claim on a delivery lasts unless renewed; renewed every third of that while the attempt runs, so a killed worker's deliveries come back within one lease",
  },
  attemptTimeoutMs: {
    env: 'HERALD_ATTEMPT_TIMEOUT_MS', default: 30_000, parse: int(100, 900_000), roles: BOTH,
    doc: "per-attempt timeout, and the most an endpoint's own `timeout_ms` may be",
  },
  endpointMaxInFlight: {
    env: 'HERALD_ENDPOINT_MAX_IN_FLIGHT', default: 10, parse: int(1, 10_000), roles: WORKER,
    doc: 'attempts in flight at once to one endpoint, per worker process (an endpoint may set `max_in_flight`)',
  },
  breakerThreshold: { env: 'HERALD_BREAKER_THRESHOLD', default: 10, parse: int(1, 1_000_000), roles: WORKER, doc: "consecutive failed attempts that open an endpoint's circuit breaker" },
  breakerCooldownMs: { env: 'HERALD_BREAKER_COOLDOWN_MS', default: 60_000, parse: int(1, 7 * DAY_MS), roles: WORKER, doc: 'how long an open breaker holds deliveries back before one probe' },
  autoDisableAfterMs: {
    env: 'HERALD_AUTO_DISABLE_AFTER_MS', default: 5 * DAY_MS, defaultText: '`432000000` (5 days)', parse: int(0, 365 * DAY_MS), roles: WORKER,
    doc: 'an endpoint failing without a single success this long is disabled; `0` = never',
  },
  operatorWebhookUrl: optional({
    env: 'HERALD_OPERATOR_WEBHOOK_URL', parse: httpUrl, roles: BOTH,
    doc: 'where Herald sends its own operational events (`endpoint.disabled`), Standard Webhooks signed',
  }),
  operatorWebhookSecret: optional({
    env: 'HERALD_OPERATOR_WEBHOOK_SECRET', defaultText: 'generated', parse: standardSecret, roles: BOTH, secret: true,
    doc: '`whsec_…` secret for those (set it, so your receiver can verify them)',
  }),
  retentionDays: {
    env: 'HERALD_RETENTION_DAYS', default: 30, parse: int(0, 36_500), roles: WORKER,
    doc: 'finished events, deliveries and attempts older than this are deleted in small batches; `0` = keep forever',
  },
  requestTimeoutMs: {
    env: 'HERALD_REQUEST_TIMEOUT_MS', default: 60_000, parse: int(1000, 600_000), roles: API,
    doc: 'time a client has to send a whole request, headers and body, from its first byte; past it `408` and the connection is closed (60 s is 16 MiB, the batch limit, at about 2 Mbit/s)',
  },
  maxPayloadBytes: { env: 'HERALD_MAX_PAYLOAD_BYTES', default: 256 * 1024, parse: int(1024, 16 * 1024 * 1024), roles: API, doc: 'largest event `data` (bigger → `413`)' },
  secretRotationGraceMs: {
    env: 'HERALD_SECRET_ROTATION_GRACE_MS', default: DAY_MS, parse: int(0, 30 * DAY_MS), roles: API,
    doc: 'after a rotation, the old secret keeps signing (alongside the new) this long',
  },
  jwtSecret: optional({ env: 'HERALD_JWT_SECRET', parse: text, roles: API, secret: true, doc: 'HS256 key for JWTs on the Screenshot API surface' }),
  jwtPublicKey: optional({ env: 'HERALD_JWT_PUBLIC_KEY', parse: pemPublicKey, roles: API, doc: 'PEM public key (RS256/ES256) for those JWTs, instead of the HS256 secret' }),
  jwtAllowNoExp: {
    env: 'HERALD_JWT_ALLOW_NO_EXP', default: false, parse: bool, roles: API,
    doc: 'accept those JWTs without an `exp` claim (they never expire); by default they are refused with `401`',
  },
  encryptionKey: optional({
    env: 'HERALD_ENCRYPTION_KEY', parse: key32, roles: BOTH, secret: true,
    doc: '32 bytes (base64 or hex) sealing endpoint secrets and custom headers at rest with AES-256-GCM; a wrong or missing key for a sealed store stops start-up; see [SECURITY.md](SECURITY.md)',
  }),
  outboundProxy: optional({
    env: 'HERALD_OUTBOUND_PROXY', parse: httpUrl, roles: WORKER, secret: true,
    doc: 'send every webhook through this HTTP proxy (CONNECT), e.g. an egress proxy; targets are still vetted first',
  }),
  apiRateLimit: {
    env: 'HERALD_API_RATE_LIMIT', default: 1000, parse: int(0, 1_000_000), roles: API,
    doc: 'API requests per second per API key, per process (`429` + `Retry-After` beyond); `0` = off',
  },
  logLevel: {
    env: 'HERALD_LOG_LEVEL', flag: '--log-level <level>', default: 'info' as const, parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), roles: BOTH,
    doc: 'log level; logs are JSON lines, credentials redacted',
  },
};

export type SettingKey = keyof typeof SETTINGS;
/** A setting's type is its parser's; one with no default may also be unset. */
type ValueOf<S> = S extends { parse: Parser<infer T>; default: infer D } ? T | (undefined extends D ? undefined : never) : never;
export type Settings = { -readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };
// Each default has its parser's type (checked here, once, rather than at every use).
const _typed: { [K in SettingKey]: Setting<Settings[K]> } = SETTINGS;
void _typed;
