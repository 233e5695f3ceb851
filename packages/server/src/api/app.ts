import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERROR_CODES, HeraldError } from '../core/errors.js';
import type { ApiContext } from './context.js';
import { nativeErrorHandler } from './errors.js';
import { useBoundedJson } from './json-body.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { endpointRoutes } from './routes/endpoints.js';
import { eventRoutes } from './routes/events.js';
import { eventTypeRoutes } from './routes/event-types.js';
import { healthRoutes } from './routes/health.js';
import { tenantRoutes } from './routes/tenants.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { validatorCompiler } from './validation.js';

export const API_VERSION = '0.1.0';

export type SurfaceErrorHandler = (err: unknown, req: FastifyRequest, reply: FastifyReply) => void;

/** A router mounted beside the native API (a compatibility profile), in its own encapsulated context. */
export interface ApiMount {
  register: (app: FastifyInstance, api: ApiContext) => Promise<void>;
  /**
   * The surface's own error shape for errors fastify raises before any route is found (a path
   * that is not valid percent-encoded UTF-8, an overlong path segment), for URLs under `prefix`.
   */
  errors?: { prefix: string; handler: SurfaceErrorHandler };
}

/** How often Node looks for requests past the timeout: the cut-off comes at most this much late. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export interface AppOptions {
  /**
   * Time a client has to send a whole request (HERALD_REQUEST_TIMEOUT_MS): a client trickling a
   * body is answered 408 and disconnected instead of holding a connection and its buffers forever.
   */
  requestTimeoutMs: number;
}

/**
 * Errors Node raises before a request reaches a route (a request past its timeout, oversized or
 * malformed headers): answered with the native error body, then the connection is closed.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'request_timeout', ERROR_CODES.request_timeout.message]
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'validation_error', 'The request headers are too large.'] : [400, 'validation_error', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Builds the HTTP app without listening, so tests can use `inject()` and the server can decide
 * where to listen.
 */
export async function buildApp(api: ApiContext, logger: Logger, mounts: ApiMount[] = [], opts: AppOptions): Promise<FastifyInstance> {
  const requestTimeout = opts.requestTimeoutMs;
  const errorHandlerFor = (url: string): SurfaceErrorHandler => mounts.find((m) => m.errors && url.startsWith(m.errors.prefix))?.errors?.handler ?? nativeErrorHandler;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Both: Node 20 only watches for late requests when the server is created with a timeout.
    requestTimeout,
    http: { requestTimeout, connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, requestTimeout) },
    clientErrorHandler,
    // Errors raised before routing go through the error handler of the surface the URL is under.
    frameworkErrors: (err, req, reply) => errorHandlerFor(req.url)(err, req, reply),
    bodyLimit: api.config.maxPayloadBytes + 64 * 1024,
    // Per-request log lines cost more than the request at webhook volumes; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  useBoundedJson(app);
  app.decorateRequest('principal', null);
  // A POST without a body means "no options" (e.g. `curl -X POST …/test`): validate it as `{}`.
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) req.body = {};
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  if (api.config.apiRateLimit > 0) {
    // Per caller, after authentication (preHandler), so each key has its own budget; the error
    // goes through each surface's error handler, so it has that surface's shape (and Retry-After).
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: api.config.apiRateLimit,
      timeWindow: 1000,
      keyGenerator: (req) => {
        if (req.principal) return req.principal.keyId ? `key:${req.principal.keyId}` : 'admin';
        if (req.screenshotUser) return `user:${req.screenshotUser}`;
        return `ip:${req.ip}`;
      },
      allowList: (req) => req.url === '/health' || req.url === '/ready',
      errorResponseBuilder: (_req, ctx) => {
        const retryAfterSeconds = Math.max(1, Math.ceil(ctx.ttl / 1000));
        return new HeraldError('rate_limited', `Too many requests: at most ${ctx.max} per second per API key. Retry in ${retryAfterSeconds} s.`, undefined, { retryAfterSeconds });
      },
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Herald API', version: API_VERSION, description: 'Webhook delivery: tenants, endpoints, events, deliveries. Errors: `{"error": {"code", "message", "details"?}}`.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API key' } } },
      security: [{ bearerAuth: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.setErrorHandler(nativeErrorHandler);
  app.setNotFoundHandler((req, reply) => errorHandlerFor(req.url)(new HeraldError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply));

  await app.register(healthRoutes(api));
  await app.register(async (v1) => {
    v1.addHook('onRequest', async (req) => api.auth.authenticate(req));
    await v1.register(tenantRoutes(api));
    await v1.register(eventTypeRoutes(api));
    await v1.register(endpointRoutes(api));
    await v1.register(eventRoutes(api));
    await v1.register(deliveryRoutes(api));
  });
  for (const mount of mounts) await app.register(async (scope) => mount.register(scope, api));
  return app;
}
