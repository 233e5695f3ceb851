import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { presentEventType } from '../present.js';
import { errorResponses, Nullable, TenantParams } from '../schemas.js';

const tags = ['Event types'];

export const eventTypeRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/tenants/:tid/event-types', {
    schema: { tags, summary: 'List event types', params: TenantParams, response: { 200: Type.Object({ data: Type.Array(Type.Ref('EventType')) }), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return { data: (await api.store.eventTypes.list(tid)).map(presentEventType) };
  });

  app.post('/v1/tenants/:tid/event-types', {
    schema: {
      tags, summary: 'Register an event type, optionally with a JSON Schema its data must match',
      params: TenantParams,
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 255 }),
        description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
        schema: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()), {
          description: 'JSON Schema draft-07: `$ref` only inside the schema, patterns in RE2 syntax, at most 32 KiB, 32 levels, 250 subschemas and 32 patterns (SECURITY.md)',
        })),
      }, { additionalProperties: false }),
      response: { 201: Type.Ref('EventType'), ...errorResponses(400, 401, 404, 409) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return reply.status(201).send(presentEventType(await api.events.createType(tid, req.body)));
  });
};
