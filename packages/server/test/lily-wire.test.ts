import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { createEndpoint, createTenant, publish, startHerald, startReceiver, type TestHerald } from './helpers.js';

const require = createRequire(import.meta.url);
const startGuideReceiver = require('./guide-receivers/lily-express.cjs') as (secret: string, onEvent: (e: any, h: any) => void) => Promise<{ port: number; close(): Promise<void> }>;

const SECRET = 'your_webhook_secret';
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function lilyHerald(clock?: ManualClock): Promise<TestHerald> {
  const t = await startHerald(clock ? { clock } : {});
  open.push(t);
  await createTenant(t, 'org_789xyz');
  return t;
}

describe('Lily Media AI profile on the wire', () => {
  it("the guide's own Express receiver accepts every delivery: envelope, headers, signature, timestamp", async () => {
    const received: { event: any; headers: any }[] = [];
    const guide = await startGuideReceiver(SECRET, (event, headers) => received.push({ event, headers }));
    open.push(guide);
    const t = await lilyHerald();
    const ep = await createEndpoint(t, 'org_789xyz', { url: `http://127.0.0.1:${guide.port}/webhooks/lily-media`, profile: 'lily', secret: SECRET, event_types: ['post.published', 'post.failed', 'content.generated', 'connection.health_changed'] });
    expect(ep.id).toMatch(/^webhook_/);
    for (const type of ['post.published', 'post.failed', 'content.generated', 'connection.health_changed', 'image.generated']) {
      await publish(t, 'org_789xyz', { type, data: { sample: type } });
    }
    await t.herald.worker.runOnce();
    const deliveries = (await t.call('GET', '/v1/tenants/org_789xyz/deliveries')).body.data;
    expect(deliveries).toHaveLength(4); // image.generated is not subscribed
    for (const d of deliveries) expect(d).toMatchObject({ status: 'delivered', last_status_code: 200 });
    expect(received).toHaveLength(4);
    const { event, headers } = received.find((r) => r.event.type === 'post.published')!;
    expect(Object.keys(event)).toEqual(['id', 'type', 'created_at', 'data', 'organization_id', 'api_version', 'environment']);
    expect(event).toMatchObject({ type: 'post.published', data: { sample: 'post.published' }, organization_id: 'org_789xyz', api_version: '2024-09-01', environment: 'live' });
    expect(event.id).toMatch(/^evt_/);
    expect(event.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(headers['user-agent']).toBe('Lily-Media-Webhooks/2.0');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-lily-event-type']).toBe('post.published');
    expect(headers['x-lily-event-id']).toBe(event.id);
    expect(headers['x-lily-delivery-id']).toMatch(/^delivery_/);
    expect(headers['x-lily-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(headers['x-lily-retry-count']).toBeUndefined();
  });

  it("the guide's receiver rejects a tampered body and a wrong secret", async () => {
    const plain = await startReceiver();
    open.push(plain);
    const guide = await startGuideReceiver(SECRET, () => {});
    open.push(guide);
    const t = await lilyHerald();
    await createEndpoint(t, 'org_789xyz', { url: plain.url, profile: 'lily', secret: SECRET });
    await publish(t, 'org_789xyz', { type: 'post.published', data: { post_id: 'p1' } });
    await t.herald.worker.runOnce();
    const [sent] = plain.requests;
    const forward = (body: string, headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${guide.port}/webhooks/lily-media`, { method: 'POST', body, headers });
    const keep = ['content-type', 'x-lily-signature', 'x-lily-timestamp'];
    const headers = Object.fromEntries(keep.map((h) => [h, String(sent!.headers[h])]));
    expect((await forward(sent!.body, headers)).status).toBe(200);
    expect((await forward(sent!.body.replace('p1', 'p2'), headers)).status).toBe(401);
    const stale = { ...headers, 'x-lily-timestamp': String(Math.floor(Date.now() / 1000) - 301) };
    expect((await forward(sent!.body, stale)).status).toBe(401);
  });

  it('retries immediately, then 30 s, 5 min, 30 min, 2 h, 6 h after the previous attempt, with the retry headers', async () => {
    const clock = new ManualClock(Date.parse('2024-09-07T14:30:00Z'));
    const r = await startReceiver(500);
    open.push(r);
    const t = await lilyHerald(clock);
    await createEndpoint(t, 'org_789xyz', { url: r.url, profile: 'lily', secret: SECRET });
    await publish(t, 'org_789xyz', { type: 'post.failed', data: {} });
    await t.herald.worker.runOnce();
    for (const gap of [30_000, 300_000, 1_800_000, 7_200_000, 21_600_000]) {
      clock.advance(gap - 1);
      expect(await t.herald.worker.runOnce()).toBe(0);
      clock.advance(1);
      expect(await t.herald.worker.runOnce()).toBe(1);
    }
    expect(r.requests).toHaveLength(6);
    const [d] = (await t.call('GET', '/v1/tenants/org_789xyz/deliveries')).body.data;
    expect(d).toMatchObject({ status: 'failed', attempt_count: 6 });
    const deliveryIds = new Set(r.requests.map((q) => q.headers['x-lily-delivery-id']));
    expect(deliveryIds.size).toBe(1);
    expect(r.requests[0]!.headers['x-lily-retry-count']).toBeUndefined();
    r.requests.slice(1).forEach((q, i) => {
      expect(q.headers['x-lily-retry-count']).toBe(String(i + 1));
      expect(q.headers['x-lily-max-retries']).toBe('6');
      expect(q.headers['x-lily-first-attempt']).toBe('2024-09-07T14:30:00Z');
    });
    expect(r.requests[1]!.headers['x-lily-timestamp']).toBe(String(Date.parse('2024-09-07T14:30:30Z') / 1000));
  });

  it('test events carry the guide sample data with environment "test"; unknown event types are refused', async () => {
    const r = await startReceiver();
    open.push(r);
    const t = await lilyHerald();
    const ep = await createEndpoint(t, 'org_789xyz', { url: r.url, profile: 'lily', secret: SECRET });
    expect((await t.call('POST', `/v1/tenants/org_789xyz/endpoints/${ep.id}/test`, { event_type: 'image.generated' })).status).toBe(202);
    await t.herald.worker.runOnce();
    const body = JSON.parse(r.requests[0]!.body);
    expect(body).toMatchObject({ type: 'image.generated', environment: 'test', data: { generation_id: 'img_stu901', dimensions: { width: 1024, height: 1024 } } });
    const bad = await t.call('POST', '/v1/tenants/org_789xyz/endpoints', { url: r.url, profile: 'lily', event_types: ['post.exploded'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('event_types');
  });
});
