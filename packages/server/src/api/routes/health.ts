import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

const tags = ['Health'];

export const healthRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/health', { schema: { tags, summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/ready', {
    schema: {
      tags, summary: 'Readiness: the store answers and the delivery worker runs (when this process has one)',
      response: { 200: Type.Object({ status: Type.String(), store: Type.Boolean(), worker: Type.Union([Type.Boolean(), Type.Null()]) }), 503: Type.Object({ status: Type.String(), store: Type.Boolean(), worker: Type.Union([Type.Boolean(), Type.Null()]) }) },
    },
  }, async (_req, reply) => {
    const r = await api.ready();
    const ok = r.store && r.worker !== false;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', ...r });
  });
};
