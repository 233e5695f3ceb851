#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { describeConfig, loadConfig, settingsTable, SETTINGS, unknownVariables, type Setting, type SettingKey } from '../config/index.js';
import { Herald } from '../herald.js';
import { Store } from '../store/index.js';
import { migrateToLatest } from '../store/migrate.js';
import { openDatabase } from '../store/connect.js';
import { TenantService } from '../services/tenants.js';
import { systemClock } from '../core/clock.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('herald').description('Herald: self-hostable webhook delivery').version(version).showHelpAfterError();

/**
 * A setting's flag as a commander option. Commander only collects raw text here (no `.env()`,
 * no parsers): the config module reads flags and variables with the same rules.
 */
function optionFor(key: SettingKey): Option {
  const s: Setting<unknown> = SETTINGS[key];
  return new Option(s.flag!, `${s.doc} (env ${s.env})`);
}

/** The flags the user typed, as raw strings keyed by setting (defaults and implied values left to the config module). */
function typedFlags(cmd: Command, keys: readonly SettingKey[]): Partial<Record<SettingKey, string>> {
  const flags: Partial<Record<SettingKey, string>> = {};
  for (const key of keys) {
    const attr = optionFor(key).attributeName();
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    const v: unknown = cmd.getOptionValue(attr);
    flags[key] = v === true ? 'true' : v === false ? 'false' : String(v);
  }
  return flags;
}

const SERVE_FLAGS = (Object.keys(SETTINGS) as SettingKey[]).filter((k) => 'flag' in SETTINGS[k]);

const serve = program.command('serve').description('run the API and the delivery worker');
for (const key of SERVE_FLAGS) serve.addOption(optionFor(key));
serve.action(async (_o: unknown, cmd: Command) => {
    const config = loadConfig({ flags: typedFlags(cmd, SERVE_FLAGS) });
    const herald = await Herald.create({ config });
    const store = `${herald.store.dialect} ${herald.store.location}`;
    const unknown = unknownVariables();
    if (unknown.length) herald.logger.warn({ variables: unknown }, `unknown HERALD_ variables (typos?): ${unknown.join(', ')}; \`herald config\` lists the settings`);
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
  .addOption(optionFor('databaseUrl'))
  .action(async (_o: unknown, cmd: Command) => {
    const config = loadConfig({ flags: typedFlags(cmd, ['databaseUrl']) });
    const { db, location, schema } = openDatabase(config.databaseUrl, config);
    const applied = await migrateToLatest(db, schema).finally(() => db.destroy());
    console.log(applied.length ? `applied ${applied.join(', ')} to ${location}` : `${location} is up to date`);
  });

const keys = program.command('keys').description('API keys');
keys
  .command('create')
  .description('create an API key and print it (shown once; stored hashed)')
  .option('--tenant <id>', 'scope the key to one tenant (default: an admin key)')
  .option('--name <name>', 'a label for the key')
  .addOption(optionFor('databaseUrl'))
  .action(async (o: { tenant?: string; name?: string }, cmd: Command) => {
    const config = loadConfig({ flags: typedFlags(cmd, ['databaseUrl']) });
    const store = await Store.open(config.databaseUrl, { db: config });
    try {
      const tenants = new TenantService({ store, clock: systemClock, config, nudge: () => {}, nudgeRecoveries: () => {} });
      const { key, secret } = await tenants.issueKey(o.tenant ?? null, { name: o.name ?? null });
      console.log(secret);
      console.error(`created ${o.tenant ? `tenant key for ${o.tenant}` : 'admin key'} ${key.id} (prefix ${key.prefix}); it will not be shown again`);
    } finally {
      await store.close();
    }
  });

program
  .command('config')
  .description('print the settings this environment gives (secrets hidden), or the README table with --markdown')
  .option('--markdown', 'print the configuration table of the README')
  .action((o: { markdown?: boolean }) => {
    if (o.markdown) {
      console.log(settingsTable());
      return;
    }
    const rows = describeConfig(loadConfig());
    const width = Math.max(...rows.map((r) => r.setting.length));
    for (const r of rows) console.log(`${r.setting.padEnd(width)}  ${r.value}`);
    const unknown = unknownVariables();
    if (unknown.length) console.error(`unknown HERALD_ variables (typos?): ${unknown.join(', ')}`);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`herald: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
