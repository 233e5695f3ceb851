import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyExpress, verifyFastify, verifyRequest, WebhookVerificationError, type VerifyOptions } from '../src/index.js';
import { VECTORS } from './vectors.js';

const vector = (name: string) => VECTORS.find((v) => v.name === name)!;
const good = vector('standard: non-ASCII body');
const tampered = vector('standard: tampered non-ASCII body');
const options: VerifyOptions = { secret: good.secrets, now: good.now * 1000 };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** POSTs a vector's exact bytes and headers to a receiver on 127.0.0.1. */
async function post(url: string, v: typeof good): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: v.headers, body: Buffer.from(v.body) });
  return { status: res.status, body: await res.json() };
}

/** The answer the receivers give: the payload, or the failure reason with 401. */
function answer(err: unknown): { status: number; body: unknown } {
  if (err instanceof WebhookVerificationError) return { status: 401, body: { reason: err.reason } };
  return { status: 500, body: { error: String(err) } };
}

async function expressReceiver(parser: express.RequestHandler): Promise<string> {
  const app = express();
  app.post('/webhooks', parser, async (req, res) => {
    try {
      res.json({ payload: await verifyExpress(req, options) });
    } catch (err) {
      const a = answer(err);
      res.status(a.status).json(a.body);
    }
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
}

describe('receiver helpers', () => {
  it('Express with express.raw: verifies the raw bytes, rejects a tampered body with its reason', async () => {
    const url = await expressReceiver(express.raw({ type: 'application/json' }));
    expect(await post(url, good)).toEqual({ status: 200, body: { payload: JSON.parse(good.body) } });
    expect(await post(url, tampered)).toEqual({ status: 401, body: { reason: 'no_matching_signature' } });
  });

  it('Express with a JSON parser instead: a TypeError that says to use express.raw, never a verdict on re-serialised JSON', async () => {
    const url = await expressReceiver(express.json());
    const res = await post(url, good);
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/TypeError: the request body is already parsed.*express\.raw\(\{ type: 'application\/json' \}\)/);
  });

  it('Fastify with a buffer content-type parser', async () => {
    const app = Fastify();
    closers.push(() => app.close());
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/webhooks', async (request, reply) => {
      try {
        return { payload: await verifyFastify(request, options) };
      } catch (err) {
        const a = answer(err);
        return reply.code(a.status).send(a.body);
      }
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    expect(await post(`${base}/webhooks`, good)).toEqual({ status: 200, body: { payload: JSON.parse(good.body) } });
    expect(await post(`${base}/webhooks`, tampered)).toEqual({ status: 401, body: { reason: 'no_matching_signature' } });
  });

  it('Web Request (Next.js route handlers, Hono, Workers): every profile', async () => {
    for (const name of ['standard: rotation, signed with the new and the old secret, receiver knows the old', 'lily: non-ASCII body (the guide\'s content.generated sample)', 'screenshot: non-ASCII body']) {
      const v = vector(name);
      const request = new Request('http://127.0.0.1/webhooks', { method: 'POST', headers: v.headers, body: v.body });
      expect(await verifyRequest(request, { profile: v.profile, secret: v.secrets, now: v.now * 1000 })).toEqual(JSON.parse(v.body));
    }
    const stale = vector('lily: timestamp 301 s old');
    const request = new Request('http://127.0.0.1/webhooks', { method: 'POST', headers: stale.headers, body: stale.body });
    const err = await verifyRequest(request, { profile: 'lily', secret: stale.secrets, now: stale.now * 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookVerificationError);
    expect(err).toMatchObject({ reason: 'stale_timestamp', header: 'x-lily-timestamp', message: expect.stringMatching(/301 s old, over the 300 s tolerance/) });
  });

  it('says what failed without ever quoting a secret', async () => {
    for (const v of VECTORS.filter((x) => x.expected !== 'ok')) {
      const err = (await verifyRequest(new Request('http://127.0.0.1/', { method: 'POST', headers: v.headers, body: v.body }), {
        profile: v.profile, secret: v.secrets, now: v.now * 1000, toleranceSeconds: v.tolerance,
      }).catch((e: unknown) => e)) as WebhookVerificationError;
      expect(err.message.length, v.name).toBeGreaterThan(20);
      for (const s of v.secrets.filter((x) => x.length > 6)) expect(err.message, v.name).not.toContain(s);
    }
    const unset = (await verifyRequest(new Request('http://127.0.0.1/', { method: 'POST', headers: good.headers, body: good.body }), {
      secret: process.env.HERALD_SURELY_UNSET_VARIABLE!,
    }).catch((e: unknown) => e)) as WebhookVerificationError;
    expect(unset).toMatchObject({ reason: 'bad_secret', message: expect.stringContaining('no secret given') });
    const missing = vector('standard: missing webhook-signature');
    await expect(verifyRequest(new Request('http://127.0.0.1/', { method: 'POST', headers: missing.headers, body: missing.body }), options))
      .rejects.toMatchObject({ reason: 'missing_header', header: 'webhook-signature', message: expect.stringContaining('missing webhook-signature header') });
  });

  it('the built package imports nothing but its own files: no node: modules, no globals beyond Web APIs', () => {
    const dist = new URL('../dist/', import.meta.url);
    const files = readdirSync(dist).filter((f) => f.endsWith('.js'));
    expect(files).toContain('index.js');
    for (const f of files) {
      // Comments (doc examples) aside, the code itself.
      const code = readFileSync(new URL(f, dist), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      const specifiers = [...code.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      for (const s of specifiers) expect(s, f).toMatch(/^\.\/[\w-]+\.js$/);
      expect(code, f).not.toMatch(/\b(require\(|process\.|Buffer\b|__dirname)/);
    }
  });
});
