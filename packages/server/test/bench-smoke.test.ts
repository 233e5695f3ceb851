import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(__dirname, '../../..');

// CI smoke test of `npm run bench -- --quick`: every scenario must deliver everything. Speed is
// not asserted here (it depends on the machine); the benchmark itself reports it.
it('npm run bench -- --quick delivers every delivery in every scenario', async () => {
  await run(process.execPath, [resolve(root, 'bench/run.mjs'), '--quick'], { cwd: root, timeout: 210_000 });
  const report = JSON.parse(readFileSync(resolve(root, 'bench/results/quick.json'), 'utf8'));
  expect(report.raw_ceiling.lost).toBe(0);
  expect(report.scenarios.map((s: { name: string }) => s.name)).toEqual(['bullmq-baseline', 'herald-sqlite', 'herald-postgres-1', 'herald-postgres-2', 'backlog', 'publish-only', 'noisy-neighbours-sqlite', 'noisy-neighbours-postgres']);
  // Raw ceilings measured before and after each delivering scenario (one shared between neighbours),
  // and each ratio taken against the mean of its own two.
  expect(report.raw_ceiling_runs).toHaveLength(6);
  for (const s of report.scenarios) {
    expect(s.lost, s.name).toBe(0);
    if (s.name === 'publish-only' || s.name.startsWith('noisy-neighbours')) continue;
    const [before, after] = s.raw_ceiling_before_after;
    expect(s.raw_ceiling_per_s, s.name).toBe(Math.round((before + after) / 2));
    expect(s.ratio_to_raw, s.name).toBeCloseTo(s.deliveries_per_s / s.raw_ceiling_per_s, 2);
  }
  // CPU of each delivering scenario: its own processes, the database server's (Redis for BullMQ,
  // PostgreSQL), the machine's busy share and the busiest main thread's, each a plausible figure.
  for (const s of report.scenarios.filter((x: { name: string }) => x.name === 'bullmq-baseline' || x.name.startsWith('herald-'))) {
    expect(s.cpu_us_per_delivery, s.name).toBeGreaterThan(0);
    expect(s.machine_busy_pct, s.name).toBeGreaterThan(0);
    expect(s.machine_busy_pct, s.name).toBeLessThanOrEqual(100);
    expect(s.main_thread_busy_pct, s.name).toBeGreaterThan(0);
    expect(s.main_thread_busy_pct, s.name).toBeLessThanOrEqual(105); // clock ticks of 10 ms over a short run
    if (s.name !== 'herald-sqlite') expect(s.server_cpu_us_per_delivery, s.name).toBeGreaterThan(0);
  }
  const [bull, sqlite] = report.scenarios;
  expect(sqlite.raw_ceiling_before_after[0]).toBe(bull.raw_ceiling_before_after[1]);
  // The publish API alone: every event's deliveries committed by the time its batch was answered.
  const publishOnly = report.scenarios.find((s: { name: string }) => s.name === 'publish-only');
  expect(publishOnly.deliveries_queued).toBe(report.params.deliveries + publishOnly.single_events * report.params.endpoints);
  expect(publishOnly.publish_per_s).toBeGreaterThan(0);
  expect(publishOnly.publish_single_per_s).toBeGreaterThan(0);
  const herald = report.scenarios.find((s: { name: string }) => s.name === 'herald-sqlite');
  // One attempt row per delivery: the throughput run, 50 idle events, and the half-rate run.
  expect(herald.half_rate_deliveries).toBeGreaterThan(0);
  expect(herald.attempts_logged).toBe(report.params.deliveries + 50 * report.params.endpoints + herald.half_rate_deliveries);
  // Noisy neighbours: the healthy stream measured alone and beside the hanging endpoints, the RSS read.
  for (const s of report.scenarios.filter((x: { name: string }) => x.name.startsWith('noisy-neighbours'))) {
    expect(s.alone_p99_ms, s.name).toBeGreaterThan(0);
    expect(s.p99_ms, s.name).toBeGreaterThan(0);
    expect(s.peak_rss_mb, s.name).toBeGreaterThan(0);
    expect(s.bad_connections_peak, s.name).toBeGreaterThan(0);
  }
}, 240_000);
