import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { parseTime, presentAttempt, presentDelivery } from '../present.js';
import { DeliverySchema, DeliveryStatusSchema, errorResponses, PageQuery, pageOf, TenantParams } from '../schemas.js';

const tags = ['Deliveries'];
const Params = Type.Object({ tid: Type.String(), did: Type.String() });

export const deliveryRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/tenants/:tid/deliveries', {
    schema: {
      tags, summary: 'The delivery log, newest first, filtered',
      params: TenantParams,
      querystring: Type.Object({
        ...PageQuery,
        endpoint_id: Type.Optional(Type.String()),
        event_id: Type.Optional(Type.String()),
        event_type: Type.Optional(Type.String()),
        status: Type.Optional(DeliveryStatusSchema),
        after: Type.Optional(Type.String({ description: 'created at or after (ISO 8601)' })),
        before: Type.Optional(Type.String({ description: 'created before (ISO 8601)' })),
      }),
      response: { 200: pageOf(Type.Ref('Delivery')), ...errorResponses(400, 401, 404) },
    },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const q = req.query;
    const page = await api.deliveries.list(tid, {
      endpointId: q.endpoint_id, eventId: q.event_id, eventType: q.event_type, status: q.status,
      after: parseTime(q.after, 'after'), before: parseTime(q.before, 'before'), cursor: q.cursor, limit: q.limit ?? 50,
    });
    return { data: page.data.map(presentDelivery), next_cursor: page.nextCursor };
  });

  app.get('/v1/tenants/:tid/deliveries/:did', {
    schema: {
      tags, summary: 'A delivery with every attempt: request headers, response status and body, duration, error kind',
      params: Params,
      response: { 200: Type.Object({ ...DeliverySchema.properties, attempts: Type.Array(Type.Ref('Attempt')) }), ...errorResponses(401, 404) },
    },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const { delivery, attempts } = await api.deliveries.get(tid, req.params.did);
    return { ...presentDelivery(delivery), attempts: attempts.map(presentAttempt) };
  });

  app.post('/v1/tenants/:tid/deliveries/:did/retry', {
    schema: { tags, summary: 'Attempt this delivery again now', params: Params, response: { 202: Type.Ref('Delivery'), ...errorResponses(401, 404, 409) } },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return reply.status(202).send(presentDelivery(await api.deliveries.retry(tid, req.params.did)));
  });
};
