import type { HeadersLike } from './headers.js';
import { verify, type RawBody, type VerifyOptions } from './verify.js';

/**
 * Verifies a Web `Request` (Next.js route handlers, Hono's `c.req.raw`, Cloudflare Workers, Deno,
 * Bun) and returns the parsed payload. Reads the body, so do not read it before.
 * @example
 * export async function POST(request: Request) {
 *   const event = await verifyRequest(request, { secret: process.env.WEBHOOK_SECRET! });
 *   return new Response(null, { status: 204 });
 * }
 */
export async function verifyRequest<T = unknown>(request: Request, options: VerifyOptions): Promise<T> {
  return verify<T>(new Uint8Array(await request.arrayBuffer()), request.headers, options);
}

/** The part of an Express or Fastify request that verification needs. */
export interface RawBodyRequest {
  body?: unknown;
  headers: HeadersLike;
}

function rawBodyOf(req: RawBodyRequest, hint: string): RawBody {
  const { body } = req;
  if (typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer) return body;
  // A parsed object cannot be checked: serialising it again rarely gives the signed bytes back.
  throw new TypeError(`the request body is ${body === undefined ? 'missing' : 'already parsed'}; the signature covers the raw bytes: ${hint}`);
}

/**
 * Verifies an Express request whose body is the raw bytes, and returns the parsed payload.
 * @example
 * app.post('/webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
 *   const event = await verifyExpress(req, { secret: process.env.WEBHOOK_SECRET! });
 *   res.sendStatus(204);
 * });
 */
export function verifyExpress<T = unknown>(req: RawBodyRequest, options: VerifyOptions): Promise<T> {
  return verify<T>(rawBodyOf(req, "use express.raw({ type: 'application/json' }) on this route, before any JSON parser"), req.headers, options);
}

/**
 * Verifies a Fastify request whose body is the raw bytes, and returns the parsed payload. Fastify
 * parses JSON by default; have it keep the bytes (in the webhook route's plugin scope):
 * @example
 * app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
 * app.post('/webhooks', async (request, reply) => {
 *   const event = await verifyFastify(request, { secret: process.env.WEBHOOK_SECRET! });
 *   return reply.code(204).send();
 * });
 */
export function verifyFastify<T = unknown>(request: RawBodyRequest, options: VerifyOptions): Promise<T> {
  return verify<T>(
    rawBodyOf(request, "register app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))"),
    request.headers,
    options,
  );
}
