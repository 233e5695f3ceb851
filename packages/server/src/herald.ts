import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp, type ApiMount } from './api/app.js';
import { Authenticator } from './api/auth.js';
import type { ApiContext } from './api/context.js';
import type { Config } from './config/index.js';
import { systemClock, type Clock } from './core/clock.js';
import type { Resolver } from './delivery/resolver.js';
import { ThreadedTransport } from './delivery/threaded-transport.js';
import { HttpTransport, type Transport } from './delivery/transport.js';
import { DeliveryWorker, type WorkerOptions } from './delivery/worker.js';
import { createLogger } from './logger.js';
import type { ServiceContext } from './services/context.js';
import { DeliveryService } from './services/deliveries.js';
import { EndpointService } from './services/endpoints.js';
import { EventService } from './services/events.js';
import { TenantService } from './services/tenants.js';
import { Store } from './store/index.js';
import { SecretBox } from './store/secret-box.js';
import { DueListener } from './store/wake.js';
import { RecoveryRunner } from './background/recovery-runner.js';
import { RetentionPruner } from './background/retention.js';
import { OperationalEvents } from './services/operational.js';
import { allMounts } from './profiles.js';

export interface HeraldOptions {
  config: Config;
  clock?: Clock;
  /** DNS for outgoing deliveries (tests inject answers and failures). */
  resolver?: Resolver;
  logger?: Logger;
  /** Extra worker settings (batch size, poll interval, jitter source…). */
  worker?: Partial<Omit<WorkerOptions, 'store' | 'transport' | 'clock' | 'logger'>>;
  /** Whether to start the delivery loop (default: config.runWorker). Tests drive `worker.runOnce()` instead. */
  startWorker?: boolean;
  /** Routers mounted beside the native API; default: every compatibility profile. */
  mounts?: ApiMount[];
  /** Observe every address a delivery connects to. */
  onDial?: (host: string, address: string) => void;
}

/** One Herald process: store, API and (unless disabled) the delivery worker. */
export class Herald {
  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly app: FastifyInstance,
    readonly worker: DeliveryWorker,
    readonly recoveries: RecoveryRunner,
    readonly pruner: RetentionPruner,
    readonly transport: Transport,
    readonly api: ApiContext,
    readonly logger: Logger,
    private readonly listener: DueListener | null,
  ) {}

  static async create(opts: HeraldOptions): Promise<Herald> {
    const { config } = opts;
    const clock = opts.clock ?? systemClock;
    const logger = opts.logger ?? createLogger(config.logLevel);
    const store = await Store.open(config.databaseUrl, { secrets: SecretBox.fromKey(config.encryptionKey), db: config, logger: logger.child({ component: 'store' }) });
    try {
      // A missing or wrong key would fail every read of an endpoint later: refuse to start instead,
      // before sealing anything with a wrong key.
      await store.endpoints.checkEncryptionKey();
      // With a key set, secrets written before it are sealed now (idempotent; any process may do it).
      const sealed = await store.endpoints.sealPlaintextSecrets();
      if (sealed > 0) {
        await store.eraseFreedSpace();
        logger.info({ sealed }, 'encrypted endpoint secrets and headers stored in the clear (and erased their plaintext from the SQLite file)');
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    const transportOptions = {
      addressPolicy: { allowPrivateNetworks: config.allowPrivateNetworks, allowCidrs: config.allowCidrs },
      proxyUrl: config.outboundProxy,
    };
    // A resolver or dial hook given in code (tests) cannot cross into a thread: send from this one.
    const inProcess = config.deliveryThreads === 0 || opts.resolver !== undefined || opts.onDial !== undefined;
    const transport: Transport = inProcess
      ? new HttpTransport({ ...transportOptions, resolver: opts.resolver, onDial: opts.onDial })
      : new ThreadedTransport(transportOptions, config.deliveryThreads, logger.child({ component: 'transport' }));
    const operational = new OperationalEvents(store, config, logger.child({ component: 'operational' }));
    await operational.ensureOperatorEndpoint(clock.now());
    const worker = new DeliveryWorker({
      store, transport, clock, logger: logger.child({ component: 'worker' }),
      concurrency: config.workerConcurrency, maxWaiting: config.workerMaxWaiting, slowAttemptMs: config.slowAttemptMs, attemptTimeoutMs: config.attemptTimeoutMs, endpointMaxInFlight: config.endpointMaxInFlight,
      health: { breakerThreshold: config.breakerThreshold, breakerCooldownMs: config.breakerCooldownMs, autoDisableAfterMs: config.autoDisableAfterMs },
      onEndpointDisabled: operational.endpointsDisabled,
      leaseMs: config.leaseMs, ...opts.worker,
    });
    const recoveries = new RecoveryRunner({ store, clock, logger: logger.child({ component: 'recoveries' }), owner: worker.id, onRequeued: () => worker.nudge() });
    const pruner = new RetentionPruner(store, clock, logger.child({ component: 'retention' }), config.retentionDays);
    const runWorker = opts.startWorker ?? config.runWorker;
    const services: ServiceContext = {
      store, clock, config, nudge: () => worker.nudge(), nudgeRecoveries: () => recoveries.nudge(),
      ...(runWorker ? { fresh: worker } : {}),
    };
    const api: ApiContext = {
      ...services,
      auth: new Authenticator(services),
      tenants: new TenantService(services),
      endpoints: new EndpointService(services),
      events: new EventService(services),
      deliveries: new DeliveryService(services),
      ready: async () => {
        const r = await store.readiness();
        return { store: r.ok, worker: runWorker ? worker.isRunning : null, ...(r.ok ? {} : { reason: r.reason }) };
      },
    };
    const app = await buildApp(api, logger, opts.mounts ?? allMounts, { requestTimeoutMs: config.requestTimeoutMs });
    await app.ready();
    let listener: DueListener | null = null;
    if (runWorker) {
      worker.start();
      recoveries.start();
      pruner.start();
      // Other processes (api role) publish too: on PostgreSQL they announce it with NOTIFY.
      if (store.listenConnection) {
        listener = new DueListener(store.listenConnection, () => worker.nudge(), logger.child({ component: 'listener' }), store.availability);
        await listener.start();
      }
    }
    return new Herald(config, store, app, worker, recoveries, pruner, transport, api, logger, listener);
  }

  /** Starts listening on the configured host and port; returns the base URL. */
  async listen(): Promise<string> {
    return this.app.listen({ port: this.config.port, host: this.config.host });
  }

  /** Graceful stop: no new requests, in-flight attempts finish and are recorded, then the store closes. */
  async close(): Promise<void> {
    await this.listener?.stop();
    await this.app.close();
    await Promise.all([this.recoveries.stop(), this.pruner.stop()]);
    await this.worker.stop();
    await this.transport.close();
    await this.store.close();
  }
}
