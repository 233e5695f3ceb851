import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { HeraldError } from '../../core/errors.js';
import type { Endpoint } from '../../core/model.js';
import { LILY_EVENT_TYPES, lilyProfile, lilyTime } from '../../core/profiles/lily.js';
import type { ApiContext } from '../context.js';
import { boundedJson } from '../json-body.js';

/**
 * The Lily Media AI management API (lily-media-webhooks-guide.txt) at `/api/webhooks`. The
 * caller's organization is the tenant of its API key; only `lily` endpoints are visible here.
 */

const PROFILE = lilyProfile.name;
const tags = ['Lily Media AI profile'];

export const maskLilySecret = (secret: string): string => `wh_secret_***_${secret.slice(-6)}`;

export function presentLilyWebhook(e: Endpoint) {
  return {
    id: e.id,
    url: e.url,
    events: e.eventTypes ?? [...LILY_EVENT_TYPES],
    secret: maskLilySecret(e.secret),
    created_at: lilyTime(e.createdAt),
    status: e.status === 'enabled' ? 'active' : 'paused',
  };
}

const Webhook = Type.Object({ id: Type.String(), url: Type.String(), events: Type.Array(Type.String()), secret: Type.String(), created_at: Type.String(), status: Type.String() });
const Events = Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: LILY_EVENT_TYPES.length, description: `any of: ${LILY_EVENT_TYPES.join(', ')}` });
/**
 * Pages past this would skip 100 million webhooks or attempts, more than any organization has;
 * the bound keeps the offset an exact integer that both stores take (a page beyond 2^64 was a 500).
 */
export const LILY_MAX_PAGE = 1_000_000;
const PageQuery = Type.Object({ page: Type.Optional(Type.Integer({ minimum: 1, maximum: LILY_MAX_PAGE, default: 1 })), per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })) });
const Pagination = Type.Object({ page: Type.Integer(), per_page: Type.Integer(), total: Type.Integer() });
const IdParams = Type.Object({ id: Type.String() });

export const lilyRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  // The guide's own curl lines for PUT and …/test send JSON with `-d` but no Content-Type, which
  // curl labels application/x-www-form-urlencoded. Scripts copied from the guide must work as they are.
  const json = boundedJson(app);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') done(null, {});
    else json(req, body as string, done);
  });

  /** Organization API keys only: the organization is the tenant the key belongs to. */
  app.addHook('onRequest', async (req) => {
    await api.auth.authenticate(req);
    if (req.principal?.kind !== 'tenant') throw new HeraldError('forbidden', 'use an organization API key (an admin key has no organization)');
  });
  const org = (req: FastifyRequest) => (req.principal as { tenantId: string }).tenantId;
  const webhook = (req: FastifyRequest, id: string) => api.endpoints.getOfProfile(org(req), id, PROFILE);

  app.post('/api/webhooks', {
    schema: {
      tags, summary: 'Create a webhook; the secret is generated unless given, and shown masked',
      body: Type.Object({ url: Type.String({ minLength: 1, maxLength: 2048 }), events: Events, secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false }),
      response: { 201: Webhook },
    },
  }, async (req, reply) => {
    const e = await api.endpoints.create(org(req), { url: req.body.url, eventTypes: req.body.events, secret: req.body.secret, profile: PROFILE });
    return reply.status(201).send(presentLilyWebhook(e));
  });

  app.get('/api/webhooks', {
    schema: { tags, summary: 'List webhooks', querystring: PageQuery, response: { 200: Type.Object({ webhooks: Type.Array(Webhook), pagination: Pagination }) } },
  }, async (req) => {
    const page = req.query.page ?? 1;
    const perPage = req.query.per_page ?? 50;
    const list = await api.store.endpoints.list(org(req), { profile: PROFILE, offset: (page - 1) * perPage, limit: perPage });
    return { webhooks: list.data.map(presentLilyWebhook), pagination: { page, per_page: perPage, total: await api.store.endpoints.count(org(req), PROFILE) } };
  });

  app.get('/api/webhooks/:id', { schema: { tags, summary: 'Get a webhook', params: IdParams, response: { 200: Webhook } } }, async (req) =>
    presentLilyWebhook(await webhook(req, req.params.id)));

  app.put('/api/webhooks/:id', {
    schema: {
      tags, summary: 'Update url, events, secret or status (active/paused)', params: IdParams,
      body: Type.Object({
        url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })), events: Type.Optional(Events),
        secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused')])),
      }, { additionalProperties: false }),
      response: { 200: Webhook },
    },
  }, async (req) => {
    await webhook(req, req.params.id);
    const b = req.body;
    const e = await api.endpoints.update(org(req), req.params.id, {
      url: b.url, eventTypes: b.events, secret: b.secret, status: b.status === undefined ? undefined : b.status === 'active' ? 'enabled' : 'disabled',
    });
    return presentLilyWebhook(e);
  });

  app.delete('/api/webhooks/:id', { schema: { tags, summary: 'Delete a webhook', params: IdParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await webhook(req, req.params.id);
    await api.endpoints.delete(org(req), req.params.id);
    return reply.status(204).send(null);
  });

  app.get('/api/webhooks/:id/status', {
    schema: {
      tags, summary: 'Health: status, last delivery, 24 h success rate, consecutive failures, next retry', params: IdParams,
      response: { 200: Type.Object({
        id: Type.String(), status: Type.String(), last_delivery_at: Type.Union([Type.String(), Type.Null()]),
        last_delivery_status: Type.Union([Type.Integer(), Type.Null()]), last_delivery_success: Type.Union([Type.Boolean(), Type.Null()]),
        success_rate_24h: Type.Union([Type.Number(), Type.Null()]), deliveries_24h: Type.Integer(), consecutive_failures: Type.Integer(),
        next_retry_at: Type.Union([Type.String(), Type.Null()]),
      }) },
    },
  }, async (req) => {
    const e = await webhook(req, req.params.id);
    const h = await api.store.deliveries.endpointHealth(org(req), e.id, api.clock.now() - 24 * 3600 * 1000);
    return {
      id: e.id,
      status: e.status === 'enabled' ? 'active' : 'paused',
      last_delivery_at: h.lastAttempt ? lilyTime(h.lastAttempt.startedAt) : null,
      last_delivery_status: h.lastAttempt?.responseStatus ?? null,
      last_delivery_success: h.lastAttempt ? h.lastAttempt.errorKind === null : null,
      success_rate_24h: h.attemptsSince === 0 ? null : Math.round((h.successesSince / h.attemptsSince) * 10_000) / 10_000,
      deliveries_24h: h.attemptsSince,
      consecutive_failures: h.consecutiveFailures,
      next_retry_at: h.nextRetryAt === null ? null : lilyTime(h.nextRetryAt),
    };
  });

  app.post('/api/webhooks/:id/test', {
    schema: {
      tags, summary: 'Send a sample of an event type (the guide\'s sample data) with environment "test"', params: IdParams,
      body: Type.Object({ event_type: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }),
      response: { 202: Type.Object({ event_id: Type.String(), delivery_id: Type.String(), event_type: Type.String(), environment: Type.Literal('test') }) },
    },
  }, async (req, reply) => {
    const e = await webhook(req, req.params.id);
    const type = req.body.event_type;
    if (type !== undefined && !LILY_EVENT_TYPES.includes(type)) {
      throw new HeraldError('validation_error', `unknown event type "${type}"`, [{ field: 'event_type', message: `must be one of: ${LILY_EVENT_TYPES.join(', ')}` }]);
    }
    const sample = lilyProfile.testEvent(type, e);
    const { event, deliveryId } = await api.events.sendTest(e, sample.type, sample.data);
    return reply.status(202).send({ event_id: event.id, delivery_id: deliveryId, event_type: event.type, environment: 'test' as const });
  });

  app.get('/api/webhooks/:id/deliveries', {
    schema: {
      tags, summary: 'Delivery log: every attempt, newest first', params: IdParams, querystring: PageQuery,
      response: { 200: Type.Object({
        deliveries: Type.Array(Type.Object({
          id: Type.String(), event_id: Type.String(), event_type: Type.String(), attempted_at: Type.String(),
          response_status: Type.Union([Type.Integer(), Type.Null()]), response_time_ms: Type.Integer(), success: Type.Boolean(), retry_count: Type.Integer(),
        })),
        pagination: Pagination,
      }) },
    },
  }, async (req) => {
    const e = await webhook(req, req.params.id);
    const page = req.query.page ?? 1;
    const perPage = req.query.per_page ?? 50;
    const log = await api.store.deliveries.attemptLog(org(req), e.id, (page - 1) * perPage, perPage);
    return {
      deliveries: log.entries.map((a) => ({
        id: a.deliveryId, event_id: a.eventId, event_type: a.eventType, attempted_at: lilyTime(a.startedAt),
        response_status: a.responseStatus, response_time_ms: a.durationMs, success: a.errorKind === null, retry_count: a.attemptNumber - 1,
      })),
      pagination: { page, per_page: perPage, total: log.total },
    };
  });
};
