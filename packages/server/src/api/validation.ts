import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
  return ajv;
}

const strict = makeAjv(false);
const coercing = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;

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
  else message = `${field || part} ${issue.message ?? 'is invalid'}`;
  return { field: field || part, message, code };
}
