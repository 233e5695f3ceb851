import AjvModule, { _, type KeywordCxt } from 'ajv';
import { compilePattern, DFA_CACHE_BYTES, WorkLimitExceeded, workLimitExceeded, type WorkMeter } from './safe-regex.js';

/**
 * Tenant-supplied JSON Schemas (draft-07) for event data, checked in the shared event loop, so
 * each is isolated and bounded:
 * - every schema is compiled by an Ajv instance of its own, and `$ref` may only point into the
 *   schema itself (`#` or `#/…`), with `$id` only at its top: one tenant's `$id` can neither
 *   collide with nor be reached from another tenant's schema;
 * - `pattern`/`patternProperties` run on RE2 (./safe-regex.ts);
 * - size, depth, subschemas and patterns are bounded when the schema is registered (compile
 *   time grows with subschemas); validation is bounded by a work meter: each subschema applied
 *   to a value is charged (more for big `enum`/`required` lists, objects' keys, long strings and
 *   `uniqueItems` pairs), each pattern test by input length × pattern size, and a publish that
 *   would spend more is refused.
 * Measured on 2 shared cores: a 1.8 KiB schema (100-way anyOf) held the loop 1.2 s on a
 * 128k-item array before the meter; a 30 KiB schema took 1–2 s to compile with Ajv's defaults
 * (a meta-schema compile per instance, code optimisation passes) and produced 500 KiB of code.
 */

const Ajv = AjvModule.default ?? AjvModule;

export const EVENT_SCHEMA_LIMITS = {
  /** JSON bytes of one schema. */
  maxBytes: 32 * 1024,
  /** Nesting of objects and arrays in one schema. */
  maxDepth: 32,
  /** Subschemas in one schema: compile time and code size grow with them (~0.2–0.6 ms and ~1 KiB of code each, measured). */
  maxSubschemas: 250,
  /** Distinct patterns (`pattern` values and `patternProperties` keys) in one schema. */
  maxPatterns: 32,
  /**
   * Default work units one publish request may spend on validation. The costliest unit measured
   * (a failing `anyOf` branch, which builds an error object) took ~0.5 µs of CPU on a loaded
   * 2-core machine, so ~100 ms at worst; a 288 KiB event of 5,000 typed line items spends 157,000.
   */
  publishWork: 200_000,
} as const;

/** A schema Herald will not run; the message says why. */
export class SchemaRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaRefused';
  }
}

export interface SchemaIssue {
  /** JSON Pointer into the data (`/items/0/sku`). */
  path: string;
  message: string;
}

export type SchemaCheck = { ok: true } | { ok: false; reason: 'invalid'; issues: SchemaIssue[] } | { ok: false; reason: 'too_costly' | 'too_deep' };

export interface EventSchema {
  /** Checks `data`, spending from `meter` (shared by the events of one publish). */
  check(data: unknown, meter: WorkMeter): SchemaCheck;
  /** Estimated memory it holds at most: compiled code and pattern caches. */
  bytes: number;
}

export const newPublishMeter = (units: number = EVENT_SCHEMA_LIMITS.publishWork): WorkMeter => ({ left: units });

const MAX_ISSUES = 10;
/** The keyword added to every subschema of Herald's copy; its value is what one application costs. */
const COST = 'herald:cost';
const KEYS = 1; // iterates the data's keys
const CHARS = 2; // measures the data string
const PAIRS = 4; // compares array items pairwise (uniqueItems without a scalar `items` type)

// Ajv's draft-07 applicators: where subschemas are, so that each gets its charge.
const ONE = new Set(['additionalItems', 'additionalProperties', 'contains', 'propertyNames', 'not', 'if', 'then', 'else']);
const LIST = new Set(['allOf', 'anyOf', 'oneOf', 'items']);
const MAP = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependencies']);
/** Keywords whose values are data, not schemas (Ajv does not look for `$id` in them). */
const DATA = new Set(['enum', 'const', 'default', 'examples']);

const DRAFT_07 = 'http://json-schema.org/draft-07/schema';
// One shared instance checks schemas against the draft-07 meta-schema; it never registers them.
let meta: InstanceType<typeof Ajv> | undefined;

/** Checks a tenant's schema and compiles it, or throws SchemaRefused. */
export function compileEventSchema(schema: unknown): EventSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new SchemaRefused('schema must be a JSON object');
  scan(schema, 1, 'schema', true);
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text) > EVENT_SCHEMA_LIMITS.maxBytes) throw new SchemaRefused(`schema is larger than ${EVENT_SCHEMA_LIMITS.maxBytes} bytes`);
  // The whole draft-07 meta-schema, not a part of it that `$schema` could name instead.
  const dialect = (schema as Record<string, unknown>).$schema;
  if (dialect !== undefined && dialect !== DRAFT_07 && dialect !== `${DRAFT_07}#`) throw new SchemaRefused(`$schema must be "${DRAFT_07}#": only JSON Schema draft-07 is supported`);
  meta ??= new Ajv({ strict: false, logger: false, validateFormats: false });
  if (!meta.validateSchema(schema)) throw new SchemaRefused(`schema is not a valid JSON Schema: ${meta.errorsText(meta.errors, { dataVar: 'schema' })}`);
  const copy = JSON.parse(text) as Record<string, unknown>;
  const { subschemas, patterns } = instrument(copy);
  const meter: WorkMeter = { left: 0 };
  const regExp = Object.assign((pattern: string) => compilePattern(pattern, meter), { code: 'herald:re2' });
  const ajv = new Ajv({
    strict: false, allErrors: false, logger: false, validateSchema: false, validateFormats: false,
    inlineRefs: false, // an inlined definition is copied at each use: code grows with uses × size
    code: { optimize: false, regExp }, // the optimiser passes cost more than they save on one-off schemas
  });
  ajv.addKeyword({ keyword: COST, schemaType: 'object', before: '$ref', code: (cxt) => charge(cxt, meter) });
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(copy);
  } catch (err) {
    throw new SchemaRefused(err instanceof RangeError ? 'schema is too complex to compile' : `schema is not supported: ${(err as Error).message}`);
  }
  return {
    // Measured: 12 KiB of heap for a small schema, 108 KiB for 240 subschemas; a pattern cache can fill.
    bytes: 8192 + text.length + subschemas * 1024 + patterns * 2 * DFA_CACHE_BYTES,
    check(data, outer) {
      meter.left = outer.left;
      try {
        if (validate(data)) return { ok: true };
        const issues = (validate.errors ?? []).slice(0, MAX_ISSUES).map((e) => ({ path: e.instancePath, message: e.message ?? 'invalid' }));
        return { ok: false, reason: 'invalid', issues };
      } catch (err) {
        if (err instanceof WorkLimitExceeded) return { ok: false, reason: 'too_costly' };
        if (err instanceof RangeError) return { ok: false, reason: 'too_deep' }; // a $ref recursion deeper than the stack
        throw err;
      } finally {
        outer.left = meter.left;
      }
    },
  };
}

/**
 * Depth of every object/array, and `$id` only at the top: a nested one would move where `#/…`
 * points. Like Ajv's own search for `$id`, this looks into unknown keywords too.
 */
function scan(value: unknown, depth: number, kind: 'schema' | 'map' | 'data', top = false): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > EVENT_SCHEMA_LIMITS.maxDepth) throw new SchemaRefused(`schema nests deeper than ${EVENT_SCHEMA_LIMITS.maxDepth} levels`);
  if (Array.isArray(value)) {
    for (const v of value) scan(v, depth + 1, kind);
    return;
  }
  if (kind === 'schema' && !top && Object.hasOwn(value, '$id')) throw new SchemaRefused('$id is allowed only at the top of the schema');
  for (const [k, v] of Object.entries(value)) {
    scan(v, depth + 1, kind === 'data' ? 'data' : kind === 'map' ? 'schema' : DATA.has(k) ? 'data' : MAP.has(k) ? 'map' : 'schema');
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Adds the cost keyword to every subschema Ajv can apply: from the top and from every `$ref` target. */
function instrument(root: Record<string, unknown>): { subschemas: number; patterns: number } {
  const seen = new Set<object>();
  const patterns = new Set<string>();
  const queue: unknown[] = [root];
  while (queue.length > 0) {
    const node = queue.pop();
    if (!isObject(node) || seen.has(node)) continue;
    seen.add(node);
    // Also a `$ref` target inside `enum` or `const`, which scan() leaves alone.
    if (node !== root && Object.hasOwn(node, '$id')) throw new SchemaRefused('$id is allowed only at the top of the schema');
    if (Object.hasOwn(node, '$ref')) {
      const target = typeof node.$ref === 'string' ? resolveLocal(root, node.$ref) : undefined;
      if (target === undefined) throw new SchemaRefused(`$ref ${JSON.stringify(node.$ref)} must point into this schema ("#" or "#/…"); references to other schemas are not supported`);
      queue.push(target);
    }
    if (typeof node.pattern === 'string') patterns.add(node.pattern);
    if (isObject(node.patternProperties)) for (const p of Object.keys(node.patternProperties)) patterns.add(p);
    node[COST] = costOf(node);
    for (const [k, v] of Object.entries(node)) {
      if (ONE.has(k)) queue.push(v);
      else if (LIST.has(k)) queue.push(...(Array.isArray(v) ? v : [v]));
      else if (MAP.has(k) && isObject(v)) queue.push(...Object.values(v));
    }
  }
  if (seen.size > EVENT_SCHEMA_LIMITS.maxSubschemas) throw new SchemaRefused(`schema has ${seen.size} subschemas, more than ${EVENT_SCHEMA_LIMITS.maxSubschemas}`);
  if (patterns.size > EVENT_SCHEMA_LIMITS.maxPatterns) throw new SchemaRefused(`schema has ${patterns.size} patterns, more than ${EVENT_SCHEMA_LIMITS.maxPatterns}`);
  return { subschemas: seen.size, patterns: patterns.size };
}

/** `#` or `#/json/pointer` inside `root` (Ajv's decoding: URI, then `~1`, `~0`); undefined otherwise. */
function resolveLocal(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node = root;
  for (const raw of ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, token)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}

/** What applying this subschema to one value costs beyond its subschemas: 1, plus 1 per 8 values in its own lists. */
function costOf(node: Record<string, unknown>): { w: number; flags: number } {
  let own = 0;
  for (const [k, v] of Object.entries(node)) {
    if (ONE.has(k) || k === COST) continue;
    if (LIST.has(k)) own += Array.isArray(v) ? v.length : 0;
    else if (MAP.has(k) && isObject(v)) for (const d of Object.values(v)) own += 1 + (Array.isArray(d) ? d.length : 0);
    else own += values(v);
  }
  let flags = 0;
  if (['additionalProperties', 'patternProperties', 'propertyNames', 'minProperties', 'maxProperties'].some((k) => Object.hasOwn(node, k))) flags |= KEYS;
  if (Object.hasOwn(node, 'minLength') || Object.hasOwn(node, 'maxLength')) flags |= CHARS;
  if (node.uniqueItems === true && !scalarItems(node.items)) flags |= PAIRS;
  return { w: 1 + Math.floor(own / 8), flags };
}

const values = (v: unknown): number => (typeof v === 'object' && v !== null ? Object.values(v).reduce<number>((n, x) => n + values(x), 1) : 1);

/** Ajv's fast uniqueItems path (a hash of items, linear) needs `items` typed with scalar types only. */
function scalarItems(items: unknown): boolean {
  if (!isObject(items)) return false;
  const types = typeof items.type === 'string' ? [items.type] : Array.isArray(items.type) ? items.type : [];
  return types.length > 0 && !types.some((t) => t === 'object' || t === 'array');
}

/** The data-dependent part of a charge: keys iterated, characters measured (per 64), pairs compared. */
function dataCost(data: unknown, flags: number): number {
  let cost = 0;
  if (flags & KEYS && isObject(data)) cost += Object.keys(data).length;
  if (flags & CHARS && typeof data === 'string') cost += data.length >> 6;
  if (flags & PAIRS && Array.isArray(data)) cost += (data.length * (data.length - 1)) / 2;
  return cost;
}

/** Emits `meter.left -= cost; if (meter.left < 0) throw …` at the start of each subschema's code. */
function charge(cxt: KeywordCxt, meter: WorkMeter): void {
  const { w, flags } = cxt.schema as { w: number; flags: number };
  const { gen } = cxt;
  const m = gen.scopeValue('obj', { ref: meter });
  const cost = flags ? _`${w} + ${gen.scopeValue('func', { ref: dataCost })}(${cxt.data}, ${flags})` : _`${w}`;
  gen.if(_`(${m}.left -= ${cost}) < 0`, () => gen.code(_`${gen.scopeValue('func', { ref: workLimitExceeded })}()`));
}
