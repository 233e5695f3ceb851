import { RE2JS, RE2Set } from 're2js';

/**
 * Tenant-supplied regular expressions (`pattern`, `patternProperties`) run on RE2 (re2js, pure
 * JavaScript): no backtracking, so `^(a+)+$` against "aaaa…ab" costs the same as any other
 * pattern of its size. RE2 is linear in the input, but its slow path still costs about
 * input length × program size (measured: 20–45 ns per unit, a 250-instruction pattern took 3 s
 * against a 256 KiB string), so every test is charged to a work meter before it runs.
 */

export const MAX_PATTERN_LENGTH = 1000;
/** RE2 instructions of one compiled pattern; `\d{1,1000}` is about 2,000. */
export const MAX_PATTERN_PROGRAM = 2000;
/**
 * Lazy-DFA cache of one pattern. re2js's default is 8 MiB per pattern, kept as long as the
 * pattern lives; a small cache only makes state-explosive patterns fall back sooner to the
 * (linear, charged) NFA, and typical patterns need a few KiB.
 */
export const DFA_CACHE_BYTES = 32 * 1024;
/** Input characters × program instructions per work unit: the NFA's worst case per unit is then close to a schema step's. */
const PATTERN_WORK_PER_UNIT = 2;

/** What one validation may still spend; shared by the patterns and the schema's steps. */
export interface WorkMeter {
  left: number;
}

/** Thrown (and caught by the validator) when a validation would spend more than its meter holds. */
export class WorkLimitExceeded extends Error {
  constructor() {
    super('work limit exceeded');
    this.name = 'WorkLimitExceeded';
  }
}

export const workLimitExceeded = (): never => {
  throw new WorkLimitExceeded();
};

export interface SafePattern {
  test(input: string): boolean;
  toString(): string;
}

/**
 * Compiles an ECMAScript pattern (JSON Schema's dialect) for RE2, or throws an Error that says
 * why it is refused: too long, not valid ECMAScript, or a feature RE2 cannot run in linear time
 * (backreferences, lookahead, lookbehind).
 */
export function compilePattern(source: string, meter: WorkMeter): SafePattern {
  const refuse = (why: string) => new Error(`pattern ${JSON.stringify(source.length > 80 ? `${source.slice(0, 80)}…` : source)} ${why}`);
  if (source.length > MAX_PATTERN_LENGTH) throw refuse(`is longer than ${MAX_PATTERN_LENGTH} characters`);
  try {
    new RegExp(source, 'u'); // parse only (never run): refuses what ECMAScript itself refuses
  } catch (err) {
    throw refuse(`is not a valid regular expression: ${(err as Error).message}`);
  }
  const dialect = toRe2Dialect(source);
  if ('unsupported' in dialect) throw refuse(`uses ${dialect.unsupported}, which the linear-time engine does not support`);
  let translated: string;
  let program: number;
  try {
    translated = RE2JS.translateRegExp(dialect.pattern);
    program = RE2JS.compile(translated).programSize();
  } catch (err) {
    throw refuse(`is not supported by the linear-time engine (RE2 syntax): ${(err as Error).message}`);
  }
  if (program > MAX_PATTERN_PROGRAM) throw refuse(`compiles to ${program} instructions, more than ${MAX_PATTERN_PROGRAM}; use smaller repeat counts`);
  const set = new RE2Set(RE2Set.UNANCHORED, 0, DFA_CACHE_BYTES);
  set.add(translated);
  set.compile();
  const text = `/${source}/u`;
  return {
    test(input: string): boolean {
      meter.left -= Math.ceil(((input.length + 1) * program) / PATTERN_WORK_PER_UNIT);
      if (meter.left < 0) workLimitExceeded();
      return set.match(input).length > 0;
    },
    // Ajv keys its per-schema pattern cache by this text, so it must differ between patterns.
    toString: () => text,
  };
}

// ECMAScript reads these differently from RE2: \s also takes Unicode spaces (Zs, U+FEFF, U+2028,
// U+2029), . also refuses \r, U+2028 and U+2029, and [\b] is a backspace. The rewrites are in
// ECMAScript syntax, for translateRegExp.
const SPACE = '\\t\\n\\v\\f\\r\\u2028\\u2029\\uFEFF\\p{Zs}';
const DOT = '[^\\n\\r\\u2028\\u2029]';

/** Rewrites what RE2 reads differently from ECMAScript, or names a feature RE2 cannot run. */
function toRe2Dialect(source: string): { pattern: string } | { unsupported: string } {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[++i] ?? '';
      if (!inClass && (next === 'k' || (next >= '1' && next <= '9'))) return { unsupported: 'a backreference' };
      if (next === 'S' && inClass) return { unsupported: '\\S inside a character class' };
      if (next === 's') out += inClass ? SPACE : `[${SPACE}]`;
      else if (next === 'S') out += `[^${SPACE}]`;
      else out += inClass && next === 'b' ? '\\u0008' : c + next; // [\b] is a backspace
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '.') {
      out += DOT;
      continue;
    } else if (c === '(' && source[i + 1] === '?') {
      const kind = source.slice(i + 2, i + 4);
      if (kind[0] === '=' || kind[0] === '!') return { unsupported: 'a lookahead' };
      if (kind === '<=' || kind === '<!') return { unsupported: 'a lookbehind' };
    }
    out += c;
  }
  return { pattern: out };
}
