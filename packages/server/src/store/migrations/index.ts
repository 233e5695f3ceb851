import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_reliability.js';
import * as m0003 from './0003_ordering.js';

/** Numbered migrations, in order. Listed statically so the built package needs no file-system scan. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_reliability': m0002,
  '0003_ordering': m0003,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};

export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1)!;
