import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startReceiver, type Receiver } from './helpers.js';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../dist/bin/herald.js');

/** Starts `herald serve` as a real process and resolves with its URL once it listens. */
function serve(env: Record<string, string>): Promise<{ proc: ChildProcess; url: string; exit: Promise<number | null> }> {
  const proc = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, PORT: '0', HERALD_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`herald did not start:\n${out}`)), 15_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ proc, url: match[1]!, exit });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`herald exited with ${code}:\n${out}`)));
  });
}

describe('herald CLI, as a real process', () => {
  let dir: string;
  let receiver: Receiver;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate, keys create, serve, the README walk-through, and a clean SIGTERM', async () => {
    const env = { DATABASE_URL: `sqlite:${join(dir, 'h.db')}`, HERALD_ALLOW_PRIVATE_NETWORKS: 'true' };
    const migrated = await run(process.execPath, [BIN, 'migrate'], { env: { ...process.env, ...env } });
    expect(migrated.stdout).toMatch(/applied 0001_initial/);
    const admin = (await run(process.execPath, [BIN, 'keys', 'create', '--name', 'bootstrap'], { env: { ...process.env, ...env } })).stdout.trim();
    expect(admin).toMatch(/^sk_admin_/);

    const { proc, url, exit } = await serve(env);
    const api = async (method: string, path: string, body?: unknown, key = admin) => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await api('POST', '/v1/tenants', { id: 'acme', name: 'Acme Inc' })).status).toBe(201);
    const ep = await api('POST', '/v1/tenants/acme/endpoints', { url: `${receiver.url}/webhooks`, event_types: ['invoice.paid'] });
    expect(ep.status).toBe(201);
    const published = await api('POST', '/v1/tenants/acme/events', { type: 'invoice.paid', data: { invoice_id: 'inv_1', amount: 4200 } });
    expect(published.body.deliveries).toBe(1);
    const [req] = await receiver.waitFor(1);
    const secret = (await api('GET', `/v1/tenants/acme/endpoints/${ep.body.id}/secret`)).body.key;
    expect(new Webhook(secret).verify(req!.body, req!.headers as Record<string, string>)).toMatchObject({ type: 'invoice.paid', data: { invoice_id: 'inv_1' } });
    // The delivery (with its attempt) is visible as soon as the result is written.
    let delivery: any;
    for (let i = 0; i < 50 && delivery?.status !== 'delivered'; i++) {
      delivery = (await api('GET', `/v1/tenants/acme/deliveries?event_id=${published.body.id}`)).body.data[0];
      if (delivery?.status !== 'delivered') await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivery.status).toBe('delivered');
    expect((await api('GET', `/v1/tenants/acme/deliveries/${delivery.id}`)).body.attempts[0].response_status).toBe(200);
    // A tenant key made by the CLI works for its tenant only.
    const tenantKey = (await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme'], { env: { ...process.env, ...env } })).stdout.trim();
    expect((await api('GET', '/v1/tenants/acme/endpoints', undefined, tenantKey)).status).toBe(200);
    expect((await api('GET', '/v1/tenants', undefined, tenantKey)).status).toBe(403);

    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('fails with a clear message on a bad DATABASE_URL', async () => {
    const res = await run(process.execPath, [BIN, 'migrate'], { env: { ...process.env, DATABASE_URL: 'mysql://x' } }).catch((e: { code: number; stderr: string }) => e);
    expect((res as { code: number }).code).toBe(1);
    expect((res as { stderr: string }).stderr).toMatch(/^herald: DATABASE_URL must be sqlite:PATH or postgres:\/\/.*\(got "mysql:\/\/x"\)\n$/);
  });
});
