import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, closedAfterEach, createTenant, publish, type TestHerald } from './helpers.js';
import { adminCall, serve, testDatabase } from './processes.js';

// Tenant-supplied event-type schemas cannot reach another tenant's, nor hold the event loop
// (issue 16, item 3). Runs on both stores; the first test against a real `herald serve`.

const h = closedAfterEach();
const types = (tenant: string) => `/v1/tenants/${tenant}/event-types`;

describe('a catastrophic pattern', () => {
  it('is answered in milliseconds with a long input, and /health answers meanwhile', async () => {
    const { url } = await serve('all', { DATABASE_URL: testDatabase() });
    await adminCall(url!, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    await adminCall(url!, 'POST', '/v1/tenants/acme/event-types', {
      name: 'evil', schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } },
    });
    // A backtracking engine needs ~2^n steps for n "a"s before the "b"; the old engine never
    // finished, and the abort below ends the test instead.
    const timed = async (path: string, init: RequestInit = {}) => {
      const started = performance.now();
      const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(10_000) });
      await res.text();
      return { status: res.status, ms: performance.now() - started };
    };
    const publishing = (s: string) => timed('/v1/tenants/acme/events', {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'evil', data: { s } }),
    });
    const [refused, health] = await Promise.all([publishing(`${'a'.repeat(20_000)}b`), delay(5).then(() => timed('/health'))]);
    expect(refused.status).toBe(422);
    expect(health.status).toBe(200);
    expect(refused.ms).toBeLessThan(1000);
    expect(health.ms).toBeLessThan(1000);
    const accepted = await publishing('a'.repeat(20_000));
    expect(accepted.status).toBe(202);
    expect(accepted.ms).toBeLessThan(1000);
  });
});

describe('isolation between tenants', () => {
  const orderSchema = (required: string) => ({
    $id: 'https://example.com/schemas/order', type: 'object', required: [required], properties: { [required]: { type: 'integer' } },
  });

  it('two tenants can use the same $id, before and after a restart', async () => {
    const first = await h.herald();
    await createTenant(first, 'a');
    await createTenant(first, 'b');
    expect((await first.call('POST', types('a'), { name: 'order', schema: orderSchema('x') })).status).toBe(201);
    expect((await first.call('POST', types('b'), { name: 'order', schema: orderSchema('y') })).status).toBe(201);
    const expectOwnSchema = async (t: TestHerald, tenants: string[]) => {
      for (const tenant of tenants) {
        const [own, other] = tenant === 'a' ? ['x', 'y'] : ['y', 'x'];
        await publish(t, tenant, { type: 'order', data: { [own]: 1 } });
        const bad = await t.call('POST', `/v1/tenants/${tenant}/events`, { type: 'order', data: { [other]: 1 } });
        expect(bad.status, tenant).toBe(422);
        expect(bad.body.error.details[0].message).toContain(`'${own}'`);
      }
    };
    await expectOwnSchema(first, ['a', 'b']);
    // A new process compiles the schemas again, in the other order.
    await first.stop();
    const second = await h.herald({ dir: first.dir });
    await expectOwnSchema(second, ['b', 'a']);
  });

  it("a $ref to another tenant's schema is refused and never shows it", async () => {
    const t = await h.herald();
    await createTenant(t, 'victim');
    await createTenant(t, 'attacker');
    const attackerKey = (await t.call('POST', '/v1/tenants/attacker/api-keys', {})).body.key;
    const secret = { $id: 'https://example.com/victim/secret', type: 'object', required: ['victim_only_field'], properties: { victim_only_field: { type: 'string', pattern: '^sk_victim_[0-9]+$' } } };
    expect((await t.call('POST', types('victim'), { name: 'secret', schema: secret })).status).toBe(201);
    for (const ref of ['https://example.com/victim/secret', 'https://example.com/victim/secret#', 'https://example.com/victim/secret#/required']) {
      const name = `probe${ref.length}`;
      const created = await t.call('POST', types('attacker'), { name, schema: { type: 'object', properties: { p: { $ref: ref } }, required: ['p'], allOf: [{ $ref: ref }] } }, attackerKey);
      // Whatever the answer, nothing of the victim's schema may appear in it or in a publish.
      const published = await t.call('POST', '/v1/tenants/attacker/events', { type: name, data: { p: 'x' } }, attackerKey);
      for (const res of [created, published]) expect(JSON.stringify(res.body)).not.toMatch(/victim_only_field|sk_victim/);
      expect(created.status, ref).toBe(400);
      expect(created.body.error.details[0]).toMatchObject({ field: 'schema', message: expect.stringContaining('must point into this schema') });
    }
    expect((await t.call('GET', types('attacker'), undefined, attackerKey)).body.data).toEqual([]);
  });
});

describe('schema limits at registration', () => {
  const nested = (levels: number) => {
    let s: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < levels; i++) s = { type: 'object', properties: { a: s } };
    return s;
  };
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['too deep', nested(20), /nests deeper than 32 levels/],
    ['too large', { enum: Array.from({ length: 4000 }, (_, i) => `value-${i}`) }, /larger than 32768 bytes/],
    ['too many subschemas', { type: 'object', properties: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, { type: 'string' }])) }, /more than 250/],
    ['too many patterns', { type: 'object', patternProperties: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`^p${i}$`, { type: 'string' }])) }, /more than 32/],
    ['a lookahead', { type: 'string', pattern: '^(?=.*[0-9]).+$' }, /lookahead/],
    ['a lookbehind', { type: 'string', pattern: '(?<!x)y' }, /lookbehind/],
    ['a backreference', { type: 'string', pattern: '^(a+)\\1$' }, /backreference/],
    ['a named backreference', { propertyNames: { pattern: '^(?<q>["\'])x\\k<q>$' } }, /backreference/],
    ['a huge repetition', { type: 'string', pattern: '^[0-9]{1,1000}[a-z]{1,1000}$' }, /instructions, more than 2000/],
    ['a nested $id', { type: 'object', properties: { a: { $id: 'https://example.com/a', type: 'string' } } }, /\$id is allowed only at the top/],
    ['part of the meta-schema as $schema', { $schema: 'http://json-schema.org/draft-07/schema#/properties/default', minLength: 'x' }, /only JSON Schema draft-07/],
  ];
  for (const [label, schema, message] of refused) {
    it(`refuses ${label} with 400, writing nothing`, async () => {
      const t = await h.herald();
      await createTenant(t, 'acme');
      const res = await t.call('POST', types('acme'), { name: 'x', schema });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_error', details: [{ field: 'schema', message: expect.stringMatching(message) }] });
      expect((await t.call('GET', types('acme'))).body.data).toEqual([]);
    });
  }

  it('accepts what stays within them: local $refs, a root $id, patterns RE2 runs', async () => {
    const t = await h.herald();
    await createTenant(t, 'acme');
    const schema = {
      $id: 'https://example.com/schemas/invoice', type: 'object', required: ['id', 'lines'],
      definitions: { money: { type: 'integer', minimum: 0 }, 'sku/code': { type: 'string', pattern: '^[A-Z]{3}-\\d{4}$' } },
      properties: { id: { type: 'string', pattern: '^in_[0-9a-f]{8}$' }, total: { $ref: '#/definitions/money' }, lines: { type: 'array', items: { type: 'object', properties: { sku: { $ref: '#/definitions/sku~1code' } } } } },
    };
    expect((await t.call('POST', types('acme'), { name: 'invoice', schema })).status).toBe(201);
    await publish(t, 'acme', { type: 'invoice', data: { id: 'in_0123abcd', total: 5, lines: [{ sku: 'ABC-1234' }] } });
    const bad = await t.call('POST', '/v1/tenants/acme/events', { type: 'invoice', data: { id: 'in_0123abcd', lines: [{ sku: 'abc' }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0]).toMatchObject({ field: 'data.lines.0.sku', message: 'must match pattern "^[A-Z]{3}-\\d{4}$"' });
  });
});

describe('validation of a publish is bounded', () => {
  // 101 branches that all run for each item: 114 work units per item.
  const branchy = { type: 'array', items: { anyOf: [...Array.from({ length: 100 }, () => ({ type: 'string' })), { type: 'number' }] } };

  it('refuses data that would cost more than the limit with 422, quickly', async () => {
    const t = await h.herald();
    await createTenant(t, 'acme');
    await t.call('POST', types('acme'), { name: 'branchy', schema: branchy });
    await t.call('POST', types('acme'), { name: 'unique', schema: { type: 'array', uniqueItems: true } });
    for (const [type, data] of [['branchy', Array.from({ length: 100_000 }, () => 0)], ['unique', Array.from({ length: 5_000 }, (_, i) => ({ i }))]] as const) {
      const started = performance.now();
      const res = await t.call('POST', '/v1/tenants/acme/events', { type, data });
      expect(res.status, type).toBe(422);
      expect(res.body.error.message).toMatch(/more than the 200000 validation steps/);
      expect(res.body.error.details).toEqual([{ field: 'data', message: 'too costly to validate' }]);
      expect(performance.now() - started, type).toBeLessThan(2000);
    }
    expect((await t.call('GET', '/v1/tenants/acme/events')).body.data).toEqual([]);
  });

  it('shares the limit between the events of a batch', async () => {
    const t = await h.herald();
    await createTenant(t, 'acme');
    await t.call('POST', types('acme'), { name: 'branchy', schema: branchy });
    const event = { type: 'branchy', data: Array.from({ length: 1000 }, () => 0) };
    await publish(t, 'acme', event);
    const batch = await t.call('POST', '/v1/tenants/acme/events/batch', { events: [event, event] });
    expect(batch.status).toBe(422);
    expect(batch.body.error.details).toEqual([{ field: 'events[1].data', message: 'too costly to validate' }]);
  });

  it('answers a $ref recursion deeper than the stack with 422, not 500', async () => {
    const t = await h.herald();
    await createTenant(t, 'acme');
    await t.call('POST', types('acme'), { name: 'loop', schema: { $ref: '#' } });
    const res = await t.call('POST', '/v1/tenants/acme/events', { type: 'loop', data: {} });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'data', message: 'too deep to validate' }]);
  });
});

describe('the Lily and Screenshot surfaces', () => {
  it('check their test events against the tenant schema of the same name, in their own error shapes', async () => {
    const t = await h.herald({ config: { jwtSecret: 'screenshot-test-jwt-secret-0123456789abcdef' } });
    await createTenant(t, 'org_1');
    const key = (await t.call('POST', '/v1/tenants/org_1/api-keys', {})).body.key;
    for (const name of ['post.published', 'WEBHOOK_TEST']) expect((await t.call('POST', types('org_1'), { name, schema: { $ref: '#' } })).status).toBe(201);
    const lilyHook = await t.call('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['post.published'] }, key);
    const lily = await t.call('POST', `/api/webhooks/${lilyHook.body.id}/test`, { event_type: 'post.published' }, key);
    expect(lily.status).toBe(422);
    expect(lily.body.error).toMatchObject({ code: 'unprocessable', message: expect.stringContaining('post.published') });
    const shot = async (method: string, url: string, body?: unknown) => {
      const res = await t.herald.app.inject({ method: method as 'POST', url, headers: { 'x-api-key': key }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    const shotHook = await shot('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['SCREENSHOT_COMPLETED'] });
    const screenshot = await shot('POST', `/api/v1/webhooks/${shotHook.body.id}/test`);
    expect(screenshot.status).toBe(422);
    expect(screenshot.body).toEqual({ error: 'UNPROCESSABLE', message: expect.stringContaining('WEBHOOK_TEST') });
  });
});
