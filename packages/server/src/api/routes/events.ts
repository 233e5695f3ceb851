import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { parseTime, presentDelivery, presentEvent } from '../present.js';
import { errorResponses, PageQuery, pageOf, TenantParams } from '../schemas.js';

const tags = ['Events'];

const EventInput = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 255 }),
  data: Type.Unknown({ description: 'any JSON; checked against the event type\'s schema when it has one' }),
  idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'publishing the same key again returns the first event and sends nothing new' })),
}, { additionalProperties: false });

const Published = Type.Object({ id: Type.String(), deliveries: Type.Integer({ description: 'deliveries created (on a repeated idempotency key: those of the first publish)' }) });

export const MAX_BATCH = 1000;

export const eventRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/v1/tenants/:tid/events', {
    schema: {
      tags, summary: 'Publish an event; it and all its deliveries are committed before the 202',
      params: TenantParams, body: EventInput,
      response: { 202: Published, ...errorResponses(400, 401, 404, 413, 422) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const [result] = await api.events.publish(tid, [{ type: req.body.type, data: req.body.data, idempotencyKey: req.body.idempotency_key }]);
    if (result!.duplicate) void reply.header('idempotent-replayed', 'true');
    return reply.status(202).send({ id: result!.event.id, deliveries: result!.deliveries });
  });

  app.post('/v1/tenants/:tid/events/batch', {
    bodyLimit: 16 * 1024 * 1024,
    schema: {
      tags, summary: `Publish up to ${MAX_BATCH} events in one transaction (all or none)`,
      params: TenantParams,
      body: Type.Object({ events: Type.Array(EventInput, { minItems: 1, maxItems: MAX_BATCH }) }, { additionalProperties: false }),
      response: { 202: Type.Object({ data: Type.Array(Published) }), ...errorResponses(400, 401, 404, 413, 422) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const results = await api.events.publish(tid, req.body.events.map((e) => ({ type: e.type, data: e.data, idempotencyKey: e.idempotency_key })));
    return reply.status(202).send({ data: results.map((r) => ({ id: r.event.id, deliveries: r.deliveries })) });
  });

  app.get('/v1/tenants/:tid/events', {
    schema: {
      tags, summary: 'List events, newest first',
      params: TenantParams,
      querystring: Type.Object({ ...PageQuery, type: Type.Optional(Type.String()), after: Type.Optional(Type.String()), before: Type.Optional(Type.String()) }),
      response: { 200: pageOf(Type.Ref('Event')), ...errorResponses(400, 401, 404) },
    },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const q = req.query;
    const page = await api.store.events.list(tid, { cursor: q.cursor, limit: q.limit ?? 50, type: q.type, after: parseTime(q.after, 'after'), before: parseTime(q.before, 'before') });
    return { data: page.data.map(presentEvent), next_cursor: page.nextCursor };
  });

  app.get('/v1/tenants/:tid/events/:id', {
    schema: { tags, summary: 'Get an event', params: Type.Object({ tid: Type.String(), id: Type.String() }), response: { 200: Type.Ref('Event'), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return presentEvent(await api.events.get(tid, req.params.id));
  });

  app.post('/v1/tenants/:tid/events/:id/resend', {
    schema: {
      tags, summary: 'Send an event to one endpoint again (one attempt), or for the first time if it never had it',
      params: Type.Object({ tid: Type.String(), id: Type.String() }),
      body: Type.Object({ endpoint_id: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      response: { 202: Type.Ref('Delivery'), ...errorResponses(400, 401, 404, 409) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return reply.status(202).send(presentDelivery(await api.deliveries.resendEvent(tid, req.params.id, req.body.endpoint_id)));
  });
};
