import { describe, expect, it } from 'vitest';
import { compileEventSchema, SchemaRefused } from '../src/core/event-schema.js';

// The pure part of event-type schemas (core/event-schema.ts, core/safe-regex.ts): what the work
// meter charges, and that patterns keep their JSON Schema meaning on RE2.

/** Units spent checking `data` (with a meter too large to run out). */
function spent(schema: Record<string, unknown>, data: unknown): number {
  const meter = { left: 1e12 };
  compileEventSchema(schema).check(data, meter);
  return 1e12 - meter.left;
}

// Applied once, S costs at least 50 units: 49 failing branches run before the last one passes.
const S = { anyOf: [...Array.from({ length: 49 }, () => ({ type: 'null' })), {}] };
const many = (n: number, value: unknown = 0) => Array.from({ length: n }, () => value);
const keyed = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));

describe('the work meter', () => {
  // Every place Ajv applies a subschema from, with data that applies S there `times` times.
  const places: [string, Record<string, unknown>, unknown, number][] = [
    ['items', { items: S }, many(100), 100],
    ['items (tuple) and additionalItems', { items: [S, S], additionalItems: S }, many(100), 100],
    ['contains', { contains: { allOf: [S, { type: 'string' }] } }, [...many(99), 'x'], 100],
    ['properties', { properties: { a: S, b: S } }, { a: 0, b: 0 }, 2],
    ['patternProperties', { patternProperties: { '^k': S } }, keyed(100), 100],
    ['additionalProperties', { additionalProperties: S }, keyed(100), 100],
    ['propertyNames', { propertyNames: S }, keyed(100), 100],
    ['dependencies', { dependencies: { a: S } }, { a: 0 }, 1],
    ['allOf, anyOf, oneOf, not', { allOf: [S], anyOf: [S], oneOf: [S], not: { not: S } }, 0, 4],
    ['if, then, else', { if: S, then: S, else: S }, 0, 2],
    ['$ref into definitions and $defs', { definitions: { s: S }, $defs: { t: S }, items: { allOf: [{ $ref: '#/definitions/s' }, { $ref: '#/$defs/t' }] } }, many(50), 100],
    ['$ref into an unknown keyword', { 'x-shared': S, items: { $ref: '#/x-shared' } }, many(100), 100],
  ];
  for (const [place, schema, data, times] of places) {
    it(`charges every application of a subschema under ${place}`, () => {
      expect(spent(schema, data)).toBeGreaterThanOrEqual(times * 50);
    });
  }

  it('charges for big lists, object keys, long strings and pairwise uniqueItems', () => {
    expect(spent({ enum: Array.from({ length: 800 }, (_, i) => i) }, 799)).toBeGreaterThanOrEqual(100);
    expect(spent({ additionalProperties: true }, keyed(1000))).toBeGreaterThanOrEqual(1000);
    expect(spent({ maxLength: 1_000_000 }, 'x'.repeat(64_000))).toBeGreaterThanOrEqual(1000);
    expect(spent({ uniqueItems: true }, many(100, {}).map((_, i) => ({ i })))).toBeGreaterThanOrEqual(4950);
    // With scalar-typed items Ajv compares through a hash: linear, charged as such.
    expect(spent({ uniqueItems: true, items: { type: 'integer' } }, many(100).map((_, i) => i))).toBeLessThan(1000);
  });

  it('charges a pattern test by input length × pattern size, before it runs', () => {
    const short = spent({ pattern: '^[a-z]+$' }, 'abc');
    const long = spent({ pattern: '^[a-z]+$' }, 'a'.repeat(10_000));
    expect(long).toBeGreaterThan(short * 1000);
    const meter = { left: 100 };
    const result = compileEventSchema({ pattern: '^(a+)+$' }).check(`${'a'.repeat(100_000)}b`, meter);
    expect(result).toEqual({ ok: false, reason: 'too_costly' });
    expect(meter.left).toBeLessThan(0);
  });
});

describe('patterns on RE2', () => {
  const valid = (schema: Record<string, unknown>, data: unknown) => compileEventSchema(schema).check(data, { left: 1e9 }).ok;

  it('keep JSON Schema meaning: unanchored, Unicode, each pattern its own', () => {
    expect(valid({ pattern: 'b' }, 'abc')).toBe(true);
    expect(valid({ pattern: '^b' }, 'abc')).toBe(false);
    expect(valid({ pattern: '^\\p{Lu}\\p{Ll}+$' }, 'Éclair')).toBe(true);
    expect(valid({ pattern: '^.$' }, '😀')).toBe(true);
    expect(valid({ pattern: '^\\d+$' }, '١٢٣')).toBe(false); // \d is ASCII, as in ECMAScript
    const two = { properties: { a: { pattern: '^a$' }, b: { pattern: '^b$' } }, patternProperties: { '^x': { type: 'string' } } };
    expect(valid(two, { a: 'a', b: 'b', x1: 's' })).toBe(true);
    expect(valid(two, { a: 'a', b: 'a' })).toBe(false);
    expect(valid(two, { x1: 1 })).toBe(false);
  });

  it('agree with ECMAScript where RE2 reads differently: \\s, \\S and .', () => {
    const patterns = ['\\s', '^\\S+$', '[\\s,]', '[^\\s]', '^.$', '^a.b$', '[.]', '\\.', '\\\\s', '^[\\d\\s]+$', '^\\w+\\b', '[\\b]'];
    const inputs = [' ', '\u00a0', '\ufeff', '\u2028', '\u3000', '\r', '\n', '\t', 'x', '.', 'a\rb', 'a.b', 'a\u2029b', '\\s', '1 2', 'ab', '\b'];
    for (const pattern of patterns) {
      for (const input of inputs) expect(valid({ pattern }, input), `${pattern} ${JSON.stringify(input)}`).toBe(new RegExp(pattern, 'u').test(input));
    }
    expect(() => compileEventSchema({ pattern: '[\\Sa]' })).toThrow(/inside a character class/);
  });

  it('refuse what RE2 cannot run in linear time, and what ECMAScript refuses', () => {
    for (const pattern of ['(?=a)', '(?!a)', '(?<=a)b', '(?<!a)b', '(a)\\1', '(?<n>a)\\k<n>', '(', '(?i)a', 'a{2,1}']) {
      expect(() => compileEventSchema({ pattern }), pattern).toThrow(SchemaRefused);
    }
    // Look-alikes that are not those features are fine.
    for (const pattern of ['[(?=]', '\\(?=a', '\\\\1', '(?:a)', '(?<name>a)']) {
      expect(() => compileEventSchema({ pattern }), pattern).not.toThrow();
    }
  });
});
