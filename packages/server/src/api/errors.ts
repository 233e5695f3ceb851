import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { coerceError, ERROR_CODES, HeraldError, type ErrorCode } from '../core/errors.js';
import { isUnavailable } from '../store/index.js';
import { describeIssue } from './validation.js';

/** What a 503 asks clients to wait: a little more than a process takes to see its database back (a probe every 0.5 s at most). */
export const RETRY_AFTER_SECONDS = 2;

/**
 * Maps anything a route throws to a HeraldError: ours as they are, fastify's validation and
 * body errors to their codes, everything else to a generic 500 (logged, never shown).
 */
export function toHeraldError(err: unknown, req: FastifyRequest): HeraldError {
  if (err instanceof HeraldError) return err;
  const e = coerceError(err) as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (e.validation) {
    const details = (e.validation as Parameters<typeof describeIssue>[0][]).map((i) => describeIssue(i, e.validationContext ?? 'body'));
    return new HeraldError('validation_error', details[0]?.message ?? 'invalid request', details);
  }
  // Not logged here: the store logs an outage once, not once per request.
  if (isUnavailable(e)) {
    return new HeraldError('unavailable', `The database is unavailable; retry in ${RETRY_AFTER_SECONDS} s.`, undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HeraldError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HeraldError('validation_error', 'Content-Type must be application/json', [{ field: 'content-type', message: 'must be application/json' }]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HeraldError('validation_error', 'the request body is empty', [{ field: 'body', message: 'must be a JSON object' }]);
    case 'FST_ERR_BAD_URL':
      return new HeraldError('validation_error', 'the URL is not valid: its percent-encoding must spell UTF-8', [{ field: 'url', message: 'invalid percent-encoding' }]);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HeraldError('uri_too_long', 'a path segment of the URL is longer than 100 characters; no id is that long');
  }
  if (e.statusCode === 400 || (e as { status?: number }).status === 400 || e instanceof SyntaxError) {
    return new HeraldError('validation_error', `the request body is not valid JSON: ${e.message}`, [{ field: 'body', message: 'invalid JSON' }]);
  }
  const known = (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === e.statusCode && e.statusCode! < 500);
  if (known) return new HeraldError(known, e.message);
  req.log.error({ err: e }, 'unhandled error');
  return new HeraldError('internal');
}

/** `Retry-After` for errors that say when to come back (429 rate limited, 503 unavailable), on every surface. */
export function setRetryAfter(h: HeraldError, reply: FastifyReply): void {
  if (typeof h.context.retryAfterSeconds === 'number') void reply.header('retry-after', String(h.context.retryAfterSeconds));
}

/** Native error body: `{ "error": { "code", "message", "details"? } }`. */
export function nativeErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const h = toHeraldError(err, req);
  setRetryAfter(h, reply);
  void reply.status(h.status).send({ error: { code: h.code, message: h.message, ...(h.details ? { details: h.details } : {}) } });
}
