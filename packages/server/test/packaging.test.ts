import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// `npm pack` of @herald/server and @herald/sdk, installed into an empty folder as a user would
// install them, then run from there. Dependencies come from the npm cache that `npm ci` filled
// (--prefer-offline: only package metadata may come from the registry; npm ci does not cache it).
const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');
const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, pkg, 'package.json'), 'utf8')) as { version: string }).version;
// npm's own variables (set when this runs under `npm test`) would leak the repository's settings into the install.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

const dir = mkdtempSync(join(tmpdir(), 'herald-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the herald command', () => {
  it('is linked in this checkout by npm ci (bin/herald.js exists before dist/ is built)', async () => {
    const { stdout } = await run(join(ROOT, 'node_modules/.bin/herald'), ['--version'], { env, timeout: 30_000 });
    expect(stdout.trim()).toBe(version('packages/server'));
  });
});

describe('the packed packages', () => {
  it('install into an empty folder; herald --version and herald serve answer there; the SDK verifies', async () => {
    const packed = await run('npm', ['pack', '--json', '-w', 'packages/server', '-w', 'packages/sdk', '--pack-destination', dir], { cwd: ROOT, env, timeout: 120_000 });
    const tarballs = JSON.parse(packed.stdout) as { name: string; filename: string; files: { path: string }[] }[];
    for (const t of tarballs) {
      const paths = t.files.map((f) => f.path);
      expect(paths, t.name).toContain('LICENSE');
      expect(paths.filter((p) => !/^(LICENSE|README\.md|package\.json|bin\/herald\.js|dist\/.+\.(js|d\.ts|js\.map))$/.test(p)), t.name).toEqual([]);
    }

    const app = join(dir, 'app');
    mkdirSync(app);
    // The SQLite driver is pinned to the version npm ci compiled, whose binary is copied below:
    // compiling SQLite again costs minutes on a busy machine and tests nothing of ours.
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', overrides: { 'better-sqlite3': version('node_modules/better-sqlite3') } }));
    await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs.map((t) => join(dir, t.filename))], { cwd: app, env, timeout: 180_000 });
    const native = 'node_modules/better-sqlite3/build/Release';
    mkdirSync(join(app, native), { recursive: true });
    copyFileSync(join(ROOT, native, 'better_sqlite3.node'), join(app, native, 'better_sqlite3.node'));

    const herald = join(app, 'node_modules/.bin/herald');
    expect((await run(herald, ['--version'], { cwd: app, env, timeout: 30_000 })).stdout.trim()).toBe(version('packages/server'));

    const proc = spawn(herald, ['serve'], {
      cwd: app, env: { ...env, DATABASE_URL: `sqlite:${join(dir, 'herald.db')}`, PORT: '0', HOST: '127.0.0.1', HERALD_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`herald serve did not start:\n${out}`)), 30_000);
        const onData = (c: Buffer) => {
          out += c.toString();
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolveUrl(m[1]!);
          }
        };
        proc.stdout!.on('data', onData);
        proc.stderr!.on('data', onData);
        proc.once('exit', (code) => reject(new Error(`herald serve exited with ${code}:\n${out}`)));
      });
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await exited).toBe(0);

    // The SDK as an installed package: its exports map, verifying a vector from the spec file.
    const vector = (JSON.parse(readFileSync(join(ROOT, 'spec/signature-vectors.json'), 'utf8')) as { vectors: { name: string }[] }).vectors.find((v) => v.name === 'lily: non-ASCII body (the guide\'s content.generated sample)');
    const script = `import { verify } from '@herald/sdk';
      const v = ${JSON.stringify(vector)};
      const payload = await verify(v.body, v.headers, { profile: v.profile, secret: v.secrets, now: v.now * 1000 });
      console.log(payload.type);`;
    const sdk = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env, timeout: 30_000 });
    expect(sdk.stdout.trim()).toBe('content.generated');
  }, 300_000);
});
