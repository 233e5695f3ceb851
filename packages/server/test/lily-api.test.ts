import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { createTenant, publish, startHerald, startReceiver, type Receiver, type TestHerald } from './helpers.js';

let t: TestHerald;
let r: Receiver;
let key: string;
let otherKey: string;
const clock = new ManualClock(Date.parse('2024-09-07T14:30:00Z'));

beforeEach(async () => {
  clock.set(Date.parse('2024-09-07T14:30:00Z'));
  t = await startHerald({ clock });
  r = await startReceiver();
  await createTenant(t, 'org_789xyz');
  await createTenant(t, 'org_other');
  key = (await t.call('POST', '/v1/tenants/org_789xyz/api-keys', {})).body.key;
  otherKey = (await t.call('POST', '/v1/tenants/org_other/api-keys', {})).body.key;
});
afterEach(async () => {
  await t.close();
  await r.close();
});

const lily = (method: string, url: string, body?: unknown, k: string | null = key) => t.call(method, url, body, k);

describe('Lily /api/webhooks management API', () => {
  it("answers the guide's create request with the guide's response shape and a masked secret", async () => {
    const res = await lily('POST', '/api/webhooks', {
      url: `${r.url}/webhooks/lily-media`,
      events: ['post.published', 'post.failed', 'content.generated', 'connection.health_changed'],
      secret: 'your_webhook_secret',
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['id', 'url', 'events', 'secret', 'created_at', 'status']);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^webhook_/),
      url: `${r.url}/webhooks/lily-media`,
      events: ['post.published', 'post.failed', 'content.generated', 'connection.health_changed'],
      secret: 'wh_secret_***_secret',
      created_at: '2024-09-07T14:30:00Z',
      status: 'active',
    });
    // The caller-supplied secret is used as is for signing.
    await publish(t, 'org_789xyz', { type: 'post.published', data: {} });
    await t.herald.worker.runOnce();
    const { createHmac } = await import('node:crypto');
    expect(r.requests[0]!.headers['x-lily-signature']).toBe(`sha256=${createHmac('sha256', 'your_webhook_secret').update(r.requests[0]!.body).digest('hex')}`);
  });

  it('generates a secret when none is given (the guide\'s ngrok example) and never returns it whole', async () => {
    const res = await lily('POST', '/api/webhooks', { url: r.url, events: ['post.published'] });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^wh_secret_\*\*\*_[0-9a-f]{6}$/);
    const list = await lily('GET', '/api/webhooks');
    expect(list.body.webhooks[0].secret).toBe(res.body.secret);
  });

  it('refuses unknown event types, missing fields and unknown fields with 400, writing nothing', async () => {
    for (const body of [{ url: r.url, events: ['post.exploded'] }, { url: r.url }, { url: r.url, events: [] }, { url: r.url, events: ['post.published'], colour: 1 }, { url: 'nope', events: ['post.published'] }]) {
      const res = await lily('POST', '/api/webhooks', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toBeTruthy();
    }
    expect((await lily('GET', '/api/webhooks')).body.pagination.total).toBe(0);
  });

  it('lists with page/per_page pagination, updates, pauses and deletes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      ids.push((await lily('POST', '/api/webhooks', { url: `${r.url}/${i}`, events: ['post.published'] })).body.id);
    }
    const p1 = await lily('GET', '/api/webhooks?page=1&per_page=2');
    expect(p1.body.pagination).toEqual({ page: 1, per_page: 2, total: 3 });
    expect(p1.body.webhooks.map((w: any) => w.id)).toEqual([ids[2], ids[1]]);
    const p2 = await lily('GET', '/api/webhooks?page=2&per_page=2');
    expect(p2.body.webhooks.map((w: any) => w.id)).toEqual([ids[0]]);

    const updated = await lily('PUT', `/api/webhooks/${ids[0]}`, { events: ['post.published', 'post.failed', 'content.generated'], url: `${r.url}/new` });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ url: `${r.url}/new`, events: ['post.published', 'post.failed', 'content.generated'], status: 'active' });
    expect((await lily('PUT', `/api/webhooks/${ids[0]}`, { status: 'paused' })).body.status).toBe('paused');
    await publish(t, 'org_789xyz', { type: 'post.failed', data: {} });
    await t.herald.worker.runOnce();
    expect(r.requests.filter((q) => q.url === '/new')).toHaveLength(0);
    expect((await lily('PUT', `/api/webhooks/${ids[0]}`, { status: 'active' })).body.status).toBe('active');
    await t.herald.worker.runOnce();
    expect(r.requests.filter((q) => q.url === '/new')).toHaveLength(0); // paused endpoints were not subscribed when it was published

    expect((await lily('DELETE', `/api/webhooks/${ids[1]}`)).status).toBe(204);
    expect((await lily('GET', `/api/webhooks/${ids[1]}`)).status).toBe(404);
    expect((await lily('GET', '/api/webhooks')).body.pagination.total).toBe(2);
  });

  it('test events and the delivery log, in the guide\'s exact shape, and the status endpoint', async () => {
    const id = (await lily('POST', '/api/webhooks', { url: r.url, events: ['post.published'] })).body.id;
    r.replies.push(500);
    const test = await lily('POST', `/api/webhooks/${id}/test`, { event_type: 'post.published' });
    expect(test.status).toBe(202);
    await t.herald.worker.runOnce();
    let status = await lily('GET', `/api/webhooks/${id}/status`);
    expect(status.body).toMatchObject({ id, status: 'active', last_delivery_status: 500, last_delivery_success: false, consecutive_failures: 1, success_rate_24h: 0, next_retry_at: '2024-09-07T14:30:30Z' });
    clock.advance(30_000);
    await t.herald.worker.runOnce();
    status = await lily('GET', `/api/webhooks/${id}/status`);
    expect(status.body).toMatchObject({ last_delivery_status: 200, last_delivery_success: true, consecutive_failures: 0, success_rate_24h: 0.5, next_retry_at: null });

    const log = await lily('GET', `/api/webhooks/${id}/deliveries`);
    expect(Object.keys(log.body)).toEqual(['deliveries', 'pagination']);
    expect(log.body.pagination).toEqual({ page: 1, per_page: 50, total: 2 });
    expect(Object.keys(log.body.deliveries[0])).toEqual(['id', 'event_id', 'event_type', 'attempted_at', 'response_status', 'response_time_ms', 'success', 'retry_count']);
    expect(log.body.deliveries[0]).toMatchObject({ id: test.body.delivery_id, event_id: test.body.event_id, event_type: 'post.published', attempted_at: '2024-09-07T14:30:30Z', response_status: 200, success: true, retry_count: 1 });
    expect(log.body.deliveries[1]).toMatchObject({ response_status: 500, success: false, retry_count: 0 });
    expect((await lily('GET', `/api/webhooks/${id}/deliveries?page=2&per_page=1`)).body.deliveries).toHaveLength(1);
    expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ environment: 'test', data: { post_id: 'post_def456' } });
    expect((await lily('POST', `/api/webhooks/${id}/test`, { event_type: 'nope' })).status).toBe(400);
  });

  it('another organization\'s webhook is 404 on every route and stays unchanged; admin and missing keys are refused', async () => {
    const id = (await lily('POST', '/api/webhooks', { url: r.url, events: ['post.published'] })).body.id;
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/webhooks/${id}`], ['PUT', `/api/webhooks/${id}`, { status: 'paused' }], ['DELETE', `/api/webhooks/${id}`],
      ['GET', `/api/webhooks/${id}/status`], ['POST', `/api/webhooks/${id}/test`, {}], ['GET', `/api/webhooks/${id}/deliveries`],
    ];
    for (const [method, url, body] of routes) expect((await lily(method, url, body, otherKey)).status, `${method} ${url}`).toBe(404);
    expect((await lily('GET', '/api/webhooks', undefined, otherKey)).body.webhooks).toEqual([]);
    expect((await lily('GET', `/api/webhooks/${id}`)).body.status).toBe('active');
    expect(r.requests).toHaveLength(0);
    expect((await lily('GET', '/api/webhooks', undefined, null)).status).toBe(401);
    expect((await t.call('GET', '/api/webhooks')).status).toBe(403);
    // Native (standard) endpoints of the same organization are not Lily webhooks.
    const native = (await t.call('POST', '/v1/tenants/org_789xyz/endpoints', { url: r.url })).body.id;
    expect((await lily('GET', `/api/webhooks/${native}`)).status).toBe(404);
  });

  it("accepts the guide's curl lines that send JSON without a Content-Type (curl's form default)", async () => {
    const id = (await lily('POST', '/api/webhooks', { url: r.url, events: ['post.published'] })).body.id;
    const asCurl = (method: 'PUT' | 'POST', url: string, payload: string) =>
      t.herald.app.inject({ method, url, payload, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' } });
    const put = await asCurl('PUT', `/api/webhooks/${id}`, '{"events": ["post.published", "post.failed", "content.generated"], "url": "' + r.url + '/new"}');
    expect(put.statusCode).toBe(200);
    expect(JSON.parse(put.body).events).toEqual(['post.published', 'post.failed', 'content.generated']);
    const test = await asCurl('POST', `/api/webhooks/${id}/test`, '{"event_type": "post.published"}');
    expect(test.statusCode).toBe(202);
    expect((await asCurl('POST', `/api/webhooks/${id}/test`, 'event_type=post.published')).statusCode).toBe(400);
  });
});
