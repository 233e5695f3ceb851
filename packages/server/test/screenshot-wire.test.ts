import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { createEndpoint, createTenant, publish, startHerald, startReceiver, type TestHerald } from './helpers.js';

const require = createRequire(import.meta.url);
const startGuideReceiver = require('./guide-receivers/screenshot-express.cjs') as (secret: string, onEvent: (e: any, h: any) => void) => Promise<{ port: number; close(): Promise<void> }>;

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
async function screenshotHerald(clock?: ManualClock): Promise<TestHerald> {
  const t = await startHerald(clock ? { clock } : {});
  open.push(t);
  await createTenant(t, 'user_456');
  return t;
}

describe('Screenshot API profile on the wire', () => {
  it("the guide's Node receiver accepts every delivery: envelope, headers and signature", async () => {
    const t = await screenshotHerald();
    const probe = await createEndpoint(t, 'user_456', { url: 'http://127.0.0.1:9/x', profile: 'screenshot' });
    expect(probe.id).toMatch(/^wh_[0-9a-f]{16}$/);
    const secret = (await t.call('GET', `/v1/tenants/user_456/endpoints/${probe.id}/secret`)).body.key;
    expect(secret).toMatch(/^whs_[0-9a-f]{32}$/);
    await t.call('DELETE', `/v1/tenants/user_456/endpoints/${probe.id}`);

    const received: { event: any; headers: any }[] = [];
    const guide = await startGuideReceiver(secret, (event, headers) => received.push({ event, headers }));
    open.push(guide);
    await createEndpoint(t, 'user_456', { url: `http://127.0.0.1:${guide.port}/webhooks`, profile: 'screenshot', secret, event_types: ['SCREENSHOT_COMPLETED', 'CREDITS_LOW'] });
    await publish(t, 'user_456', { type: 'SCREENSHOT_COMPLETED', data: { screenshotId: 'job_abc123', userId: 'user_456', status: 'COMPLETED' } });
    await publish(t, 'user_456', { type: 'CREDITS_LOW', data: { userId: 'user_456', currentCredits: 45 } });
    await t.herald.worker.runOnce();
    expect(received).toHaveLength(2);
    const { event, headers } = received.find((r) => r.event.event === 'SCREENSHOT_COMPLETED')!;
    expect(Object.keys(event)).toEqual(['event', 'timestamp', 'data']);
    expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(event.data).toEqual({ screenshotId: 'job_abc123', userId: 'user_456', status: 'COMPLETED' });
    expect(headers['x-webhook-event']).toBe('SCREENSHOT_COMPLETED');
    expect(headers['x-webhook-delivery']).toMatch(/^del_/);
    expect(headers['x-webhook-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(headers['user-agent']).toBe('ScreenshotAPI-Webhook/1.0');
    const deliveries = (await t.call('GET', '/v1/tenants/user_456/deliveries')).body.data;
    expect(deliveries.every((d: any) => d.status === 'delivered')).toBe(true);
  });

  it('retries 5xx immediately then after 1, 5, 15, 30 and 60 min with the same delivery id, then fails', async () => {
    const clock = new ManualClock();
    const r = await startReceiver(503);
    open.push(r);
    const t = await screenshotHerald(clock);
    await createEndpoint(t, 'user_456', { url: r.url, profile: 'screenshot' });
    await publish(t, 'user_456', { type: 'PAYMENT_FAILED', data: {} });
    await t.herald.worker.runOnce();
    for (const minutes of [1, 5, 15, 30, 60]) {
      clock.advance(minutes * 60_000 - 1);
      expect(await t.herald.worker.runOnce()).toBe(0);
      clock.advance(1);
      expect(await t.herald.worker.runOnce()).toBe(1);
    }
    expect(r.requests).toHaveLength(6);
    expect(new Set(r.requests.map((q) => q.headers['x-webhook-delivery'])).size).toBe(1);
    expect((await t.call('GET', '/v1/tenants/user_456/deliveries')).body.data[0]).toMatchObject({ status: 'failed', attempt_count: 6 });
  });

  it.each([
    [429, 'retrying'], [500, 'retrying'], [404, 'failed'], [400, 'failed'], [401, 'failed'], [410, 'failed'],
  ])('a %i answer leaves the delivery %s', async (status, expected) => {
    const r = await startReceiver(status);
    open.push(r);
    const t = await screenshotHerald();
    await createEndpoint(t, 'user_456', { url: r.url, profile: 'screenshot' });
    await publish(t, 'user_456', { type: 'USER_REGISTERED', data: {} });
    await t.herald.worker.runOnce();
    expect((await t.call('GET', '/v1/tenants/user_456/deliveries')).body.data[0].status).toBe(expected);
  });

  it('network failures are retried; unknown event types are refused at creation', async () => {
    const closed = await startReceiver();
    await closed.close();
    const t = await screenshotHerald();
    await createEndpoint(t, 'user_456', { url: closed.url, profile: 'screenshot' });
    await publish(t, 'user_456', { type: 'CREDITS_EXHAUSTED', data: {} });
    await t.herald.worker.runOnce();
    expect((await t.call('GET', '/v1/tenants/user_456/deliveries')).body.data[0]).toMatchObject({ status: 'retrying', last_error_kind: 'connection' });
    const bad = await t.call('POST', '/v1/tenants/user_456/endpoints', { url: closed.url, profile: 'screenshot', event_types: ['SCREENSHOT_EXPLODED'] });
    expect(bad.status).toBe(400);
  });
});
