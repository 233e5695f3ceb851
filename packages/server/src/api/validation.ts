import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { parseInstant } from '../core/input.js';

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields refused by the
 * schemas' additionalProperties: false), while query strings and path params, which are text by
 * nature, are coerced to the declared types.
 */
function makeAjv(coerce: boolean) {
  const ajv = new Ajv({ coerceTypes: coerce, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  addFormats(ajv);
  // ajv-formats passes a leap second, which Date cannot hold: a date-time must be a real instant.
  ajv.addFormat('date-time', (text: string) => parseInstant(text) !== null);
  ajv.addKeyword({ keyword: NO_NUL, type: 'string', schemaType: 'boolean', errors: false, validate: (on: boolean, text: string) => !on || !text.includes('\u0000') });
  return ajv;
}

/** Keyword added to every string a request schema declares (see refuseNul). */
const NO_NUL = 'x-no-nul';
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions'];
const SUBSCHEMAS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'];
const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];

/**
 * A copy of a request schema whose every declared string refuses NUL: PostgreSQL cannot store it
 * in text, so both stores refuse it alike, at the edge, before anything is written. Free-form JSON
 * (event `data`, endpoint `metadata`, event-type `schema`) declares no strings and keeps it: it is
 * stored as JSON text, where NUL is the escape `\u0000`.
 */
export function refuseNul(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const src = schema as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  if (src.type === 'string' || (Array.isArray(src.type) && src.type.includes('string'))) out[NO_NUL] = true;
  for (const k of SUBSCHEMA_MAPS) {
    const map = src[k];
    if (map && typeof map === 'object') out[k] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, refuseNul(sub)]));
  }
  for (const k of SUBSCHEMAS) if (k in src) out[k] = refuseNul(src[k]);
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(src[k])) out[k] = (src[k] as unknown[]).map(refuseNul);
  return out;
}

const strict = makeAjv(false);
const coercing = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(refuseNul(schema) as object) as ReturnType<FastifySchemaCompiler<unknown>>;

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Names the field an ajv error is about: `url`, `headers.X-Foo`, `event_types[0]`. */
export function fieldOf(issue: AjvIssue): string {
  const path = issue.instancePath
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
  const child = (issue.params.missingProperty ?? issue.params.additionalProperty) as string | undefined;
  if (child) return path ? `${path}.${child}` : child;
  return path;
}

export function describeIssue(issue: AjvIssue, part: string): { field: string; message: string; code: string } {
  const field = fieldOf(issue);
  const code = issue.keyword === 'required' ? 'REQUIRED' : issue.keyword === 'additionalProperties' ? 'UNKNOWN_FIELD' : 'INVALID_FORMAT';
  let message: string;
  if (issue.keyword === 'additionalProperties') message = `unknown field "${field}"`;
  else if (issue.keyword === 'required') message = `"${field}" is required`;
  else if (issue.keyword === NO_NUL) message = `${field || part} must not contain NUL characters (\\u0000)`;
  else if (issue.keyword === 'format' && issue.params.format === 'date-time') message = `${field || part} must be a real RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z`;
  else message = `${field || part} ${issue.message ?? 'is invalid'}`;
  return { field: field || part, message, code };
}
