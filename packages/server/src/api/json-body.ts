import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HeraldError } from '../core/errors.js';
import { jsonNestsDeeper, MAX_JSON_DEPTH } from '../core/input.js';

type Done = (err: Error | null, body?: unknown) => void;

export const tooDeep = (): HeraldError =>
  new HeraldError('validation_error', `the request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`, [
    { field: 'body', message: `at most ${MAX_JSON_DEPTH} levels of nesting`, code: 'TOO_DEEP' },
  ]);

/**
 * A JSON body parser that first refuses bodies nested deeper than MAX_JSON_DEPTH (one pass, no
 * recursion), then parses with fastify's own (prototype-poisoning checks included). Its errors
 * go through each surface's error handler, so they have that surface's shape.
 */
export function boundedJson(app: FastifyInstance): (req: FastifyRequest, text: string, done: Done) => void {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (req, text, done) => {
    if (jsonNestsDeeper(text, MAX_JSON_DEPTH)) done(tooDeep());
    else parse(req, text, done);
  };
}

/** Makes `boundedJson` the parser of `application/json` bodies. */
export function useBoundedJson(app: FastifyInstance): void {
  const json = boundedJson(app);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => json(req, body as string, done));
}
