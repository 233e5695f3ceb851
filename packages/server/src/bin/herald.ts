#!/usr/bin/env node
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { Herald } from '../herald.js';
import { Store } from '../store/index.js';
import { migrateToLatest } from '../store/migrate.js';
import { openDatabase } from '../store/connect.js';
import { TenantService } from '../services/tenants.js';
import { systemClock } from '../core/clock.js';

const program = new Command('herald').description('Herald: self-hostable webhook delivery').showHelpAfterError();

const dbOption = () => new Option('--database-url <url>', 'sqlite:PATH (default ./data/herald.db) or postgres://…[?schema=name]').env('DATABASE_URL');

program
  .command('serve')
  .description('run the API and the delivery worker')
  .addOption(new Option('--port <port>', 'port to listen on').env('PORT').argParser(Number))
  .addOption(new Option('--host <host>', 'interface to listen on').env('HOST'))
  .addOption(dbOption())
  .addOption(new Option('--admin-key <key>', 'accept this admin API key').env('HERALD_ADMIN_KEY'))
  .addOption(new Option('--allow-private-networks', 'allow endpoint URLs on loopback/private networks (development only)').env('HERALD_ALLOW_PRIVATE_NETWORKS'))
  .addOption(new Option('--concurrency <n>', 'attempts in flight per process').env('HERALD_WORKER_CONCURRENCY').argParser(Number))
  .addOption(new Option('--role <role>', 'all: API and worker; api: API only; worker: delivery only (no HTTP)').choices(['all', 'api', 'worker']).env('HERALD_ROLE').default('all'))
  .addOption(new Option('--no-worker', 'serve the API only (same as --role api)'))
  .addOption(new Option('--log-level <level>', 'trace|debug|info|warn|error').env('HERALD_LOG_LEVEL'))
  .action(async (o: Record<string, unknown>) => {
    const overrides: Partial<Config> = {
      port: o.port as number | undefined,
      host: o.host as string | undefined,
      databaseUrl: o.databaseUrl as string | undefined,
      adminKey: o.adminKey as string | undefined,
      allowPrivateNetworks: o.allowPrivateNetworks === undefined ? undefined : o.allowPrivateNetworks === true || String(o.allowPrivateNetworks) === 'true',
      workerConcurrency: o.concurrency as number | undefined,
      runWorker: o.worker === false || o.role === 'api' ? false : o.role === 'worker' ? true : undefined,
      runApi: o.role !== 'worker',
      logLevel: o.logLevel as string | undefined,
    };
    const config = loadConfig(process.env, overrides);
    const herald = await Herald.create({ config });
    const store = `${herald.store.dialect} ${herald.store.location}`;
    if (config.runApi) {
      const url = await herald.listen();
      herald.logger.info({ url, store, worker: config.runWorker, workerId: config.runWorker ? herald.worker.id : undefined }, `Herald listening on ${url} (docs: ${url}/docs)`);
      if (!config.adminKey) herald.logger.info('no HERALD_ADMIN_KEY set: create an admin key with `npx herald keys create`');
    } else {
      herald.logger.info({ role: 'worker', store, workerId: herald.worker.id }, 'Herald worker running');
    }
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      herald.logger.info({ signal }, 'shutting down: finishing in-flight attempts');
      herald.close().then(() => process.exit(0), (err: unknown) => {
        herald.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program
  .command('migrate')
  .description('apply database migrations (also done on start)')
  .addOption(dbOption())
  .action(async (o: { databaseUrl?: string }) => {
    const { db, location, schema } = openDatabase(o.databaseUrl);
    const applied = await migrateToLatest(db, schema).finally(() => db.destroy());
    console.log(applied.length ? `applied ${applied.join(', ')} to ${location}` : `${location} is up to date`);
  });

const keys = program.command('keys').description('API keys');
keys
  .command('create')
  .description('create an API key and print it (shown once; stored hashed)')
  .option('--tenant <id>', 'scope the key to one tenant (default: an admin key)')
  .option('--name <name>', 'a label for the key')
  .addOption(dbOption())
  .action(async (o: { tenant?: string; name?: string; databaseUrl?: string }) => {
    const store = await Store.open(o.databaseUrl);
    try {
      const config = loadConfig(process.env, { databaseUrl: o.databaseUrl });
      const tenants = new TenantService({ store, clock: systemClock, config, nudge: () => {}, nudgeRecoveries: () => {} });
      const { key, secret } = await tenants.issueKey(o.tenant ?? null, { name: o.name ?? null });
      console.log(secret);
      console.error(`created ${o.tenant ? `tenant key for ${o.tenant}` : 'admin key'} ${key.id} (prefix ${key.prefix}); it will not be shown again`);
    } finally {
      await store.close();
    }
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`herald: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
