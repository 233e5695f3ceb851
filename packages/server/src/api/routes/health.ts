import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';

const tags = ['Health'];
const Readiness = Type.Object({
  status: Type.String(), store: Type.Boolean(), worker: Type.Union([Type.Boolean(), Type.Null()]),
  reason: Type.Optional(Type.String({ description: 'why the process is not ready (e.g. the database is unreachable, since when)' })),
});

export const healthRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/health', { schema: { tags, summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/ready', {
    schema: {
      tags, summary: 'Readiness: the store answers and the delivery worker runs (when this process has one); 503 says why not',
      response: { 200: Readiness, 503: Readiness },
    },
  }, async (_req, reply) => {
    const r = await api.ready();
    const ok = r.store && r.worker !== false;
    const reason = r.reason ?? (ok ? undefined : 'the delivery worker is not running');
    if (!ok) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', store: r.store, worker: r.worker, ...(reason ? { reason } : {}) });
  });
};
