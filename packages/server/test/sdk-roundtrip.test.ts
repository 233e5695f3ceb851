import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { verifyExpress, verifyRequest, WebhookVerificationError, type ProfileName } from '@herald/sdk';
import { closedAfterEach, createEndpoint, createTenant, publish, type TestHerald } from './helpers.js';

// Herald delivers for real (over 127.0.0.1) to receivers that verify with the SDK, as its users'
// receivers would: one on Express (raw body), one as a Web `Request` handler (the shape of
// Next.js route handlers, Hono and Workers, served here through Node's http server).

interface SdkReceiver {
  url: string;
  /** The secrets the receiver accepts; set once the endpoint exists. */
  secrets: string[];
  /** Each request's outcome: the verified payload, or the failure reason. */
  results: ({ payload: any } | { reason: string })[];
  close(): Promise<void>;
}

async function listen(server: http.Server, receiver: Omit<SdkReceiver, 'url' | 'close'>): Promise<SdkReceiver> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...receiver,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const outcome = (err: unknown) => {
  if (err instanceof WebhookVerificationError) return { reason: err.reason };
  throw err;
};

/** Express, with the raw body the SDK's README asks for. */
function expressReceiver(profile: ProfileName): Promise<SdkReceiver> {
  const r: Omit<SdkReceiver, 'url' | 'close'> = { secrets: [], results: [] };
  const app = express();
  app.post('/webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
    const result = await verifyExpress(req, { profile, secret: r.secrets }).then((payload) => ({ payload }), outcome);
    r.results.push(result);
    res.status('payload' in result ? 200 : 401).json(result);
  });
  return listen(http.createServer(app), r);
}

/** A Web `Request` handler, with a minimal Node adapter in front of it. */
function webReceiver(profile: ProfileName): Promise<SdkReceiver> {
  const r: Omit<SdkReceiver, 'url' | 'close'> = { secrets: [], results: [] };
  const handler = async (request: Request): Promise<Response> => {
    const result = await verifyRequest(request, { profile, secret: r.secrets }).then((payload) => ({ payload }), outcome);
    r.results.push(result);
    return Response.json(result, { status: 'payload' in result ? 200 : 401 });
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', async () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const response = await handler(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) }));
      res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
    });
  });
  return listen(server, r);
}

const EVENTS: Record<ProfileName, { type: string; data: Record<string, unknown> }> = {
  standard: { type: 'invoice.paid', data: { invoice_id: 'inv_1', customer: 'Zoë Müller', note: '日本語 ✓ 💪' } },
  lily: { type: 'content.generated', data: { generation_id: 'gen_1', content: 'Monday Motivation 💪', platform: 'instagram' } },
  screenshot: { type: 'SCREENSHOT_COMPLETED', data: { screenshotId: 'job_abc123', metadata: { title: 'Zoë ✓' } } },
};

describe('SDK verification of real deliveries', () => {
  const open = closedAfterEach();

  /** A Herald with one tenant and, for each receiver, an endpoint of `profile` whose secret the receiver knows. */
  async function setup(profile: ProfileName, receivers: SdkReceiver[]): Promise<{ t: TestHerald; endpoints: any[] }> {
    const t = await open.herald();
    await createTenant(t, 'acme');
    const endpoints = [];
    for (const r of receivers) {
      open.open.push(r);
      const ep = await createEndpoint(t, 'acme', { url: r.url, profile });
      r.secrets.push((await t.call('GET', `/v1/tenants/acme/endpoints/${ep.id}/secret`)).body.key);
      endpoints.push(ep);
    }
    return { t, endpoints };
  }

  it.each(['standard', 'lily', 'screenshot'] as const)('%s: Express and Web Request receivers verify the delivery; one with the wrong secret answers 401 with the reason', async (profile) => {
    const receivers = [await expressReceiver(profile), await webReceiver(profile), await webReceiver(profile)];
    const { t, endpoints } = await setup(profile, receivers);
    const wrong = receivers[2]!;
    wrong.secrets.splice(0, 1, profile === 'standard' ? `whsec_${Buffer.from('not the endpoint secret, 32 byte').toString('base64')}` : 'not-the-endpoint-secret-0123456789');
    const { type, data } = EVENTS[profile];
    await publish(t, 'acme', { type, data });
    await t.herald.worker.runOnce();
    for (const r of receivers.slice(0, 2)) expect(r.results).toEqual([{ payload: expect.objectContaining({ data }) }]);
    expect(wrong.results).toEqual([{ reason: 'no_matching_signature' }]);

    const deliveries = (await t.call('GET', '/v1/tenants/acme/deliveries')).body.data;
    const of = (ep: any) => deliveries.find((d: any) => d.endpoint_id === ep.id);
    expect(endpoints.slice(0, 2).map((ep) => of(ep).status)).toEqual(['delivered', 'delivered']);
    const { attempts } = (await t.call('GET', `/v1/tenants/acme/deliveries/${of(endpoints[2]).id}`)).body;
    expect(attempts[0]).toMatchObject({ response_status: 401, response_body: expect.stringContaining('no_matching_signature') });
  });

  it('standard: during a rotation Herald signs with both secrets, so receivers knowing the old, the new or both verify', async () => {
    const knowsOld = await expressReceiver('standard');
    const { t, endpoints } = await setup('standard', [knowsOld]);
    const ep = endpoints[0];
    const rotated = (await t.call('POST', `/v1/tenants/acme/endpoints/${ep.id}/secret/rotate`, {})).body.key as string;
    const knowsNew = await webReceiver('standard');
    const knowsBoth = await webReceiver('standard');
    open.open.push(knowsNew, knowsBoth);
    knowsNew.secrets.push(rotated);
    knowsBoth.secrets.push(knowsOld.secrets[0]!, rotated);
    // One endpoint, pointed at each receiver in turn: each gets one delivery signed with both secrets.
    for (const r of [knowsOld, knowsNew, knowsBoth]) {
      expect((await t.call('PATCH', `/v1/tenants/acme/endpoints/${ep.id}`, { url: r.url })).status).toBe(200);
      await publish(t, 'acme', { type: 'invoice.paid', data: { to: r.url } });
      await t.herald.worker.runOnce();
      expect(r.results).toEqual([{ payload: expect.objectContaining({ data: { to: r.url } }) }]);
    }
  });
});
