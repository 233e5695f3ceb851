import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';

// One id per test run, inherited by the global setup and every test process: PostgreSQL schemas
// are named after it, so concurrent runs against one database stay apart.
process.env.HERALD_TEST_RUN ??= `${Math.floor(Date.now() / 1000)}_${randomBytes(2).toString('hex')}`;

/**
 * One behavioural suite, run once per store. Store-independent files (pure core, the CLI as a
 * process, the benchmark smoke test) run in the sqlite project only.
 */
const storeIndependent = ['packages/server/test/core.test.ts', 'packages/server/test/cli.test.ts', 'packages/server/test/bench-smoke.test.ts',
  'packages/server/test/transport.test.ts', 'packages/server/test/multi-row.test.ts',
  'packages/server/test/sqlite-store.test.ts', 'packages/server/test/config.test.ts', 'packages/server/test/event-schema-core.test.ts',
  'packages/server/test/signature-vectors.test.ts', 'packages/server/test/packaging.test.ts', 'packages/sdk/test/**',
  'packages/server/test/unavailable.test.ts', 'packages/server/test/capacity.test.ts'];
/** Several processes on one database, or a PostgreSQL server of the test's own: PostgreSQL only. */
const postgresOnly = ['packages/server/test/scale-out.test.ts', 'packages/server/test/pg-prepared.test.ts',
  'packages/server/test/db-outage.test.ts', 'packages/server/test/db-faults.test.ts'];
/** SQLite on a small filesystem of the test's own: SQLite only. */
const sqliteOnly = ['packages/server/test/sqlite-full-disk.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['packages/*/test/**/*.test.ts'], exclude: postgresOnly, env: { HERALD_TEST_STORE: 'sqlite' } },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: [...storeIndependent, ...sqliteOnly],
          env: { HERALD_TEST_STORE: 'postgres' },
          globalSetup: ['packages/server/test/pg-setup.ts'],
        },
      },
    ],
  },
});
