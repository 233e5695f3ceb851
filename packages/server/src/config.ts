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
  /** Whether this process runs the delivery worker. */
  runWorker: boolean;
  /** Whether this process serves the HTTP API (false for `--role worker`). */
  runApi: boolean;
  /** How long a worker's claim on a delivery lasts; must exceed the attempt timeout. */
  leaseMs: number;
  attemptTimeoutMs: number;
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
    runWorker: bool(env.HERALD_WORKER, true),
    runApi: true,
    leaseMs: int('HERALD_LEASE_MS', env.HERALD_LEASE_MS, 0),
    attemptTimeoutMs: int('HERALD_ATTEMPT_TIMEOUT_MS', env.HERALD_ATTEMPT_TIMEOUT_MS, 30_000),
    maxPayloadBytes: int('HERALD_MAX_PAYLOAD_BYTES', env.HERALD_MAX_PAYLOAD_BYTES, 256 * 1024),
    secretRotationGraceMs: int('HERALD_SECRET_ROTATION_GRACE_MS', env.HERALD_SECRET_ROTATION_GRACE_MS, 24 * 3600 * 1000),
    jwtSecret: env.HERALD_JWT_SECRET || undefined,
    jwtPublicKey: env.HERALD_JWT_PUBLIC_KEY || undefined,
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined };
}
