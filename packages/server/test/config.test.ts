import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { settingsTable } from '../src/config/index.js';
import { startReceiver } from './helpers.js';
import { adminCall, serve, testDatabase } from './processes.js';

// Settings as a user gives them: to real `herald serve` processes, by variable and by flag.

const run = promisify(execFile);
const BIN = resolve(__dirname, '../dist/bin/herald.js');
const FALSE_SPELLINGS = ['false', 'FALSE', '0', 'no', 'No', 'off', 'OFF'];
const JWT = 'jwt-secret-for-the-config-test-0123456789';

/** Runs `herald …` to its end: exit code and output. */
function herald(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A process that starts instead of refusing its settings would run forever: stop it, the test then fails on the code.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Maps with at most `n` at once: each spawned Herald costs a second of CPU to start, on two cores. */
async function limited<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

async function call(url: string, method: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('HERALD_ALLOW_PRIVATE_NETWORKS written as false, in every spelling', () => {
  it('keeps the SSRF guard on: loopback and metadata URLs are refused on all three surfaces and nothing reaches a loopback listener', async () => {
    const listener = await startReceiver(200);
    const targets = [`${listener.url}/hook`, `http://localhost:${listener.port}/hook`, 'http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/latest/'];
    const tryAll = async (env: Record<string, string>, args: string[] = []) => {
      const { url } = await serve('all', { DATABASE_URL: testDatabase(), HERALD_JWT_SECRET: JWT, HERALD_WORKER: 'false', ...env }, args);
      await adminCall(url!, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
      const key = (await adminCall(url!, 'POST', '/v1/tenants/acme/api-keys', {})).key as string;
      const statuses: number[] = [];
      for (const target of targets) {
        statuses.push((await call(url!, 'POST', '/v1/tenants/acme/endpoints', { url: target }, { authorization: `Bearer ${key}` })).status);
        statuses.push((await call(url!, 'POST', '/api/webhooks', { url: target, events: ['post.published'] }, { authorization: `Bearer ${key}` })).status);
        statuses.push((await call(url!, 'POST', '/api/v1/webhooks', { url: target.replace('http:', 'https:'), events: ['CREDITS_LOW'] }, { 'x-api-key': key })).status);
      }
      const listed = await adminCall(url!, 'GET', '/v1/tenants/acme/endpoints');
      return { statuses, endpoints: listed.data.length as number };
    };
    const cases = [...FALSE_SPELLINGS.map((v) => ({ env: { HERALD_ALLOW_PRIVATE_NETWORKS: v }, args: [] as string[] })),
      { env: { HERALD_ALLOW_PRIVATE_NETWORKS: '' }, args: [] }, // empty = unset = the default, false
      { env: { HERALD_ALLOW_PRIVATE_NETWORKS: 'true' }, args: ['--allow-private-networks', 'false'] }]; // a flag wins over the variable
    const results = await limited(cases, 3, (c) => tryAll(c.env, c.args));
    for (const [i, r] of results.entries()) {
      expect(r.statuses.every((s) => s === 400), JSON.stringify(cases[i])).toBe(true);
      expect(r.endpoints, JSON.stringify(cases[i])).toBe(0);
    }
    // The control: written as true, the same loopback URL is accepted (so the refusals above are the setting's doing).
    const { url } = await serve('all', { DATABASE_URL: testDatabase(), HERALD_WORKER: 'false', HERALD_ALLOW_PRIVATE_NETWORKS: 'on' });
    await adminCall(url!, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    expect((await adminCall(url!, 'POST', '/v1/tenants/acme/endpoints', { url: `${listener.url}/hook` })).id).toMatch(/^ep_/);
    expect(listener.requests).toHaveLength(0);
    await listener.close();
  }, 120_000);

  it('a worker that reads it as false blocks a delivery its API accepted, logs why, and sends nothing', async () => {
    const listener = await startReceiver(200);
    const db = testDatabase();
    const { url } = await serve('api', { DATABASE_URL: db, HERALD_ALLOW_PRIVATE_NETWORKS: 'true' });
    await adminCall(url!, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    await adminCall(url!, 'POST', '/v1/tenants/acme/endpoints', { url: `${listener.url}/hook` });
    const { id } = await adminCall(url!, 'POST', '/v1/tenants/acme/events', { type: 'invoice.paid', data: { n: 1 } });
    const worker = await serve('worker', { DATABASE_URL: db, HERALD_ALLOW_PRIVATE_NETWORKS: 'off' });
    let log = '';
    worker.proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 10_000;
    let delivery: any;
    while (Date.now() < deadline) {
      delivery = (await adminCall(url!, 'GET', `/v1/tenants/acme/deliveries?event_id=${id}`)).data[0];
      if (delivery?.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(delivery.status).toBe('failed');
    const detail = await adminCall(url!, 'GET', `/v1/tenants/acme/deliveries/${delivery.id}`);
    expect(detail.attempts.map((a: any) => a.error_kind)).toEqual(['blocked']);
    await expect.poll(() => log, { timeout: 5000 }).toMatch(/delivery blocked.*HERALD_ALLOW_PRIVATE_NETWORKS/);
    expect(log).toContain(delivery.id);
    expect(listener.requests).toHaveLength(0);
    await listener.close();
  }, 30_000);
});

describe('settings are parsed once, by one set of rules', () => {
  it('every boolean reads each false spelling as false', async () => {
    const outputs = await limited(FALSE_SPELLINGS, 4, (v) =>
      herald(['config'], { HERALD_WORKER: v, HERALD_PG_PREPARED_STATEMENTS: v, HERALD_ALLOW_PRIVATE_NETWORKS: v }));
    for (const [i, o] of outputs.entries()) {
      expect(o.code, FALSE_SPELLINGS[i]).toBe(0);
      for (const name of ['HERALD_WORKER', 'HERALD_PG_PREPARED_STATEMENTS', 'HERALD_ALLOW_PRIVATE_NETWORKS']) {
        expect(o.stdout, `${name}=${FALSE_SPELLINGS[i]}`).toMatch(new RegExp(`^${name} +false$`, 'm'));
      }
    }
  }, 60_000);

  it('HERALD_WORKER=false and --no-worker serve the API without a worker', async () => {
    for (const [env, args] of [[{ HERALD_WORKER: 'no' }, []], [{ HERALD_WORKER: 'true' }, ['--no-worker']]] as const) {
      const { url } = await serve('all', { DATABASE_URL: testDatabase(), ...env }, [...args]);
      const ready = (await (await fetch(`${url}/ready`)).json()) as any;
      expect(ready, JSON.stringify(env)).toMatchObject({ status: 'ready', worker: null });
    }
  }, 30_000);

  it('a bad value stops start-up with one line naming the setting and what it accepts, exit code 1, never listening', async () => {
    const cases: [Record<string, string>, string[], RegExp][] = [
      [{ HERALD_WORKER_CONCURRENCY: '0' }, [], /^herald: HERALD_WORKER_CONCURRENCY must be an integer from 1 to \d+ \(got "0"\)$/],
      [{ HERALD_WORKER_CONCURRENCY: '12abc' }, [], /HERALD_WORKER_CONCURRENCY must be an integer/],
      [{}, ['--concurrency', '0'], /^herald: --concurrency must be an integer from 1/],
      [{ HERALD_ALLOW_PRIVATE_NETWORKS: 'maybe' }, [], /^herald: HERALD_ALLOW_PRIVATE_NETWORKS must be true\|false \(also 1\|0, yes\|no, on\|off\) \(got "maybe"\)$/],
      [{ HERALD_WORKER: 'nope' }, [], /HERALD_WORKER must be true\|false/],
      [{ HERALD_PG_PREPARED_STATEMENTS: 'disabled' }, [], /HERALD_PG_PREPARED_STATEMENTS must be true\|false/],
      [{ HERALD_ALLOW_CIDRS: '10.0.0.0/8,10.0.0.0/33' }, [], /HERALD_ALLOW_CIDRS must be comma-separated CIDRs.*10\.0\.0\.0\/33/],
      [{ HERALD_LOG_LEVEL: 'verbose' }, [], /HERALD_LOG_LEVEL must be fatal\|error\|warn\|info\|debug\|trace\|silent/],
      [{ HERALD_ROLE: 'both' }, [], /HERALD_ROLE must be all\|api\|worker/],
      [{ PORT: '70000' }, [], /PORT must be an integer from 0 to 65535/],
      [{ HERALD_LEASE_MS: '10' }, [], /HERALD_LEASE_MS must be an integer from 1000/],
      [{ HERALD_SQLITE_SYNCHRONOUS: 'OFF' }, [], /HERALD_SQLITE_SYNCHRONOUS must be NORMAL\|FULL/],
      [{ DATABASE_URL: 'mysql://db/herald' }, [], /DATABASE_URL must be sqlite:PATH or postgres:\/\//],
      [{ HERALD_ENCRYPTION_KEY: 'c2hvcnQta2V5' }, [], /^herald: HERALD_ENCRYPTION_KEY must be 32 bytes .* \(got \(hidden\)\)$/],
      [{ HERALD_OPERATOR_WEBHOOK_URL: 'ftp://x' }, [], /HERALD_OPERATOR_WEBHOOK_URL must be an http:\/\/ or https:\/\/ URL/],
      [{ HERALD_ROLE: 'worker', HERALD_WORKER: 'false' }, [], /leaves nothing to run/],
    ];
    const results = await limited(cases, 4, ([env, args]) => herald(['serve', ...args], { HERALD_LOG_LEVEL: 'info', DATABASE_URL: 'sqlite::memory:', ...env }));
    for (const [i, r] of results.entries()) {
      const what = JSON.stringify(cases[i]![0]) + cases[i]![1].join(' ');
      expect(r.code, what).toBe(1);
      expect(r.stdout, what).toBe(''); // never listened, never logged "ready"
      expect(r.stderr.trimEnd().split('\n'), what).toHaveLength(1);
      expect(r.stderr.trimEnd(), what).toMatch(cases[i]![2]);
    }
    expect(results[13]!.stderr).not.toContain('c2hvcnQta2V5'); // a secret's value is never echoed
  }, 120_000);

  it('warns about HERALD_ variables that name no setting (typos)', async () => {
    const r = await herald(['config'], { HERALD_ALLOW_PRIVATE_NETWORK: 'true' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/unknown HERALD_ variables.*HERALD_ALLOW_PRIVATE_NETWORK\b/);
    expect((await run(process.execPath, [BIN, 'config'], { env: { ...process.env, HERALD_ADMIN_KEY: 'very-secret-admin-key' } })).stdout).not.toContain('very-secret');
  });

  it("the README's configuration table is the one the code generates", () => {
    const readme = readFileSync(resolve(__dirname, '../../../README.md'), 'utf8');
    const table = /<!-- settings-table:start[^>]*-->\n([\s\S]*?)\n<!-- settings-table:end -->/.exec(readme)?.[1];
    expect(table, 'README.md needs the table between <!-- settings-table:start --> and <!-- settings-table:end -->; print it with `npx herald config --markdown`').toBe(settingsTable());
  });

  it('no module outside the config module reads process.env for a setting', () => {
    const src = resolve(__dirname, '../src');
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const readers = files(src).filter((f) => f.endsWith('.ts') && !f.startsWith(join(src, 'config')) && /process\.env\b/.test(readFileSync(f, 'utf8')));
    expect(readers.map((f) => f.slice(src.length + 1))).toEqual([]);
  });
});
