import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toIso } from '../../core/clock.js';
import { HeraldError } from '../../core/errors.js';
import type { Delivery, Endpoint } from '../../core/model.js';
import { SCREENSHOT_EVENT_TYPES, screenshotProfile } from '../../core/profiles/screenshot.js';
import { MAX_URL_LENGTH, parseUrl } from '../../services/urls.js';
import { setRetryAfter, toHeraldError } from '../errors.js';
import type { ApiContext } from '../context.js';
import { ScreenshotAuth } from './screenshot-auth.js';

/**
 * The Screenshot API management surface (screenshot-api-webhooks-guide.txt) at `/api/v1/webhooks`:
 * its auth modes, limits, statuses and error bodies. A user is a Herald tenant; only
 * `screenshot` endpoints are visible here.
 */

const PROFILE = screenshotProfile.name;
export const SCREENSHOT_WEBHOOK_LIMIT = 10;
const tags = ['Screenshot API profile'];
const EVENTS: readonly string[] = SCREENSHOT_EVENT_TYPES;

declare module 'fastify' {
  interface FastifyRequest {
    screenshotUser?: string;
  }
}

/** Where the surface's routes live. */
export const SCREENSHOT_PREFIX = '/api/v1/webhooks';

/** The guide's error bodies. */
export function screenshotErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const h = toHeraldError(err, req);
  setRetryAfter(h, reply);
  const detail = h.details?.[0];
  const body: Record<string, unknown> = { error: h.code === 'not_found' ? 'RESOURCE_NOT_FOUND' : h.code.toUpperCase(), message: h.message };
  if (h.code === 'validation_error' && detail) body.details = { field: detail.field, code: detail.code ?? 'INVALID_FORMAT' };
  if (h.code === 'not_found') {
    body.message = 'Webhook not found';
    body.resourceType = 'Webhook';
    body.resourceId = h.context.resourceId ?? null;
  }
  void reply.status(h.status).send(body);
}

const invalid = (field: string, message: string, code: string) => new HeraldError('validation_error', message, [{ field, message, code }]);

export const presentScreenshotWebhook = (e: Endpoint) => ({
  id: e.id,
  userId: e.tenantId,
  url: e.url,
  events: e.eventTypes ?? [...EVENTS],
  isActive: e.status === 'enabled',
  description: e.description,
  createdAt: toIso(e.createdAt),
  updatedAt: toIso(e.updatedAt),
});

/** Only create and regenerate-secret show the secret, in the guide's field order. */
function presentWithSecret(e: Endpoint) {
  const { createdAt, updatedAt, ...head } = presentScreenshotWebhook(e);
  return { ...head, secret: e.secret, createdAt, updatedAt };
}

const presentDelivery = (d: Delivery) => ({
  id: d.id,
  webhookId: d.endpointId,
  eventId: d.eventId,
  event: d.eventType,
  status: d.status.toUpperCase(),
  attempts: d.attemptCount,
  responseStatus: d.lastStatusCode,
  error: d.lastErrorKind,
  createdAt: toIso(d.createdAt),
  lastAttemptAt: d.lastAttemptAt === null ? null : toIso(d.lastAttemptAt),
  nextRetryAt: d.status === 'retrying' && d.nextAttemptAt !== null ? toIso(d.nextAttemptAt) : null,
});

const webhookFields = {
  id: Type.String(), userId: Type.String(), url: Type.String(), events: Type.Array(Type.String()), isActive: Type.Boolean(),
  description: Type.Union([Type.String(), Type.Null()]),
};
const Webhook = Type.Object({ ...webhookFields, createdAt: Type.String(), updatedAt: Type.String() });
/** Create and regenerate-secret: the guide's field order, with the secret. */
const WebhookWithSecret = Type.Object({ ...webhookFields, secret: Type.String(), createdAt: Type.String(), updatedAt: Type.String() });
const IdParams = Type.Object({ id: Type.String() });
const Limit = (max: number, fallback: number) => Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback })) });

export const screenshotRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  const auth = new ScreenshotAuth(api);
  app.setErrorHandler(screenshotErrorHandler);
  app.addHook('onRequest', async (req) => {
    const { user, keyId } = await auth.userFor(req);
    req.screenshotUser = user;
    // An API key acts as itself (e.g. for its rate limit); a bare JWT is only its user.
    if (keyId) req.principal = { kind: 'tenant', tenantId: user, keyId };
  });
  const user = (req: FastifyRequest) => req.screenshotUser!;
  const webhook = (req: FastifyRequest, id: string) => api.endpoints.getOfProfile(user(req), id, PROFILE);
  const endpointIds = async (userId: string) => (await api.store.endpoints.list(userId, { profile: PROFILE, limit: 1000 })).data.map((e) => e.id);

  /** The guide's limits: URL length, https (http only where private networks are allowed, i.e. development), known events. */
  const check = (body: { url?: string; events?: string[] }) => {
    if (body.url !== undefined) {
      const tooLong = () => invalid('url', `Webhook URL must be at most ${MAX_URL_LENGTH} characters`, 'TOO_LONG');
      if (body.url.length > MAX_URL_LENGTH) throw tooLong();
      const url = parseUrl(body.url);
      if (!url) throw invalid('url', 'Invalid webhook URL format', 'INVALID_FORMAT');
      if (url.href.length > MAX_URL_LENGTH) throw tooLong();
      const protocol = url.protocol;
      if (protocol !== 'https:' && !(protocol === 'http:' && api.config.allowPrivateNetworks)) throw invalid('url', 'Webhook URL must use HTTPS', 'HTTPS_REQUIRED');
    }
    for (const e of body.events ?? []) {
      if (!EVENTS.includes(e)) throw invalid('events', `Unknown event "${e}"; available events: ${EVENTS.join(', ')}`, 'INVALID_EVENT');
    }
  };

  app.post('/api/v1/webhooks', {
    schema: {
      tags, summary: `Create a webhook (at most ${SCREENSHOT_WEBHOOK_LIMIT} per user); the secret is returned only here and by regenerate-secret`,
      body: Type.Object({ url: Type.String({ minLength: 1 }), events: Type.Array(Type.String(), { minItems: 1 }), description: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 201: WebhookWithSecret },
    },
  }, async (req, reply) => {
    check(req.body);
    if ((await api.store.endpoints.count(user(req), PROFILE)) >= SCREENSHOT_WEBHOOK_LIMIT) {
      throw new HeraldError('forbidden', `Webhook limit exceeded (max ${SCREENSHOT_WEBHOOK_LIMIT} per user)`);
    }
    const e = await api.endpoints.create(user(req), { url: req.body.url, eventTypes: req.body.events, description: req.body.description ?? null, profile: PROFILE });
    return reply.status(201).send(presentWithSecret(e));
  });

  app.get('/api/v1/webhooks', {
    schema: { tags, summary: 'List webhooks (no secrets)', response: { 200: Type.Object({ webhooks: Type.Array(Webhook), total: Type.Integer() }) } },
  }, async (req) => {
    const list = await api.store.endpoints.list(user(req), { profile: PROFILE, limit: 1000 });
    return { webhooks: list.data.map(presentScreenshotWebhook), total: list.data.length };
  });

  app.get('/api/v1/webhooks/deliveries', {
    schema: { tags, summary: "All of the user's deliveries, newest first", querystring: Limit(1000, 100) },
  }, async (req) => {
    const page = await api.deliveries.list(user(req), { endpointIds: await endpointIds(user(req)), limit: req.query.limit ?? 100 });
    return { deliveries: page.data.map(presentDelivery), total: page.data.length };
  });

  app.get('/api/v1/webhooks/debug/stats', { schema: { tags, summary: 'Configurations, active count, delivery status breakdown, available events, endpoints' } }, async (req) => {
    const list = (await api.store.endpoints.list(user(req), { profile: PROFILE, limit: 1000 })).data;
    const stats = await api.store.deliveries.stats(user(req), list.map((e) => e.id), 0);
    return {
      totalConfigurations: list.length,
      activeConfigurations: list.filter((e) => e.status === 'enabled').length,
      deliveryStats: Object.fromEntries(['pending', 'delivering', 'delivered', 'retrying', 'failed'].map((s) => [s.toUpperCase(), stats.byStatus[s] ?? 0])),
      availableEvents: [...EVENTS],
      webhooks: list.map((e) => ({ id: e.id, url: e.url, isActive: e.status === 'enabled', events: e.eventTypes ?? [...EVENTS] })),
      endpoints: [
        'POST /api/v1/webhooks', 'GET /api/v1/webhooks', 'PUT /api/v1/webhooks/{id}', 'DELETE /api/v1/webhooks/{id}',
        'POST /api/v1/webhooks/{id}/regenerate-secret', 'POST /api/v1/webhooks/{id}/test', 'GET /api/v1/webhooks/{id}/deliveries',
        'GET /api/v1/webhooks/{id}/stats', 'GET /api/v1/webhooks/deliveries', 'GET /api/v1/webhooks/debug/stats',
      ],
    };
  });

  app.get('/api/v1/webhooks/:id', { schema: { tags, summary: 'Get a webhook (no secret)', params: IdParams, response: { 200: Webhook } } }, async (req) =>
    presentScreenshotWebhook(await webhook(req, req.params.id)));

  app.put('/api/v1/webhooks/:id', {
    schema: {
      tags, summary: 'Update url, events, isActive or description', params: IdParams,
      body: Type.Object({
        url: Type.Optional(Type.String({ minLength: 1 })), events: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
        isActive: Type.Optional(Type.Boolean()), description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
      }, { additionalProperties: false }),
      response: { 200: Webhook },
    },
  }, async (req) => {
    await webhook(req, req.params.id);
    check(req.body);
    const b = req.body;
    const e = await api.endpoints.update(user(req), req.params.id, {
      url: b.url, eventTypes: b.events, description: b.description, status: b.isActive === undefined ? undefined : b.isActive ? 'enabled' : 'disabled',
    });
    return presentScreenshotWebhook(e);
  });

  app.delete('/api/v1/webhooks/:id', { schema: { tags, summary: 'Delete a webhook', params: IdParams } }, async (req, reply) => {
    await webhook(req, req.params.id);
    await api.endpoints.delete(user(req), req.params.id);
    return reply.status(204).send();
  });

  app.post('/api/v1/webhooks/:id/regenerate-secret', {
    schema: { tags, summary: 'Replace the secret at once (the old one stops signing)', params: IdParams, response: { 200: WebhookWithSecret } },
  }, async (req) => {
    await webhook(req, req.params.id);
    return presentWithSecret(await api.endpoints.rotateSecret(user(req), req.params.id, undefined, 0));
  });

  app.post('/api/v1/webhooks/:id/test', { schema: { tags, summary: 'Send a WEBHOOK_TEST event to this webhook', params: IdParams } }, async (req, reply) => {
    const e = await webhook(req, req.params.id);
    const sample = screenshotProfile.testEvent('WEBHOOK_TEST', e);
    const { event, deliveryId } = await api.events.sendTest(e, sample.type, sample.data);
    return reply.status(202).send({ success: true, event: event.type, eventId: event.id, deliveryId, status: 'PENDING' });
  });

  app.get('/api/v1/webhooks/:id/deliveries', {
    schema: { tags, summary: "This webhook's deliveries, newest first", params: IdParams, querystring: Limit(1000, 50) },
  }, async (req) => {
    const e = await webhook(req, req.params.id);
    const page = await api.deliveries.list(user(req), { endpointId: e.id, limit: req.query.limit ?? 50 });
    return { deliveries: page.data.map(presentDelivery), total: page.data.length };
  });

  app.get('/api/v1/webhooks/:id/stats', {
    schema: {
      tags, summary: 'Delivery statistics over the last `days` days', params: IdParams,
      querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 30 })) }),
      response: { 200: Type.Object({ total: Type.Integer(), delivered: Type.Integer(), failed: Type.Integer(), pending: Type.Integer(), successRate: Type.Number(), averageResponseTimeMs: Type.Integer() }) },
    },
  }, async (req) => {
    const e = await webhook(req, req.params.id);
    const s = await api.store.deliveries.stats(user(req), [e.id], api.clock.now() - (req.query.days ?? 30) * 86_400_000);
    const delivered = s.byStatus.delivered ?? 0;
    const failed = s.byStatus.failed ?? 0;
    return {
      total: s.total, delivered, failed, pending: s.total - delivered - failed,
      successRate: s.total === 0 ? 0 : Math.round((delivered / s.total) * 10_000) / 10_000,
      averageResponseTimeMs: Math.round(s.averageDurationMs ?? 0),
    };
  });
};
