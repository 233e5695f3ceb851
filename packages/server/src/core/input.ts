/** Pure checks of untrusted input, shared by every API surface. */

/**
 * How deeply a JSON request body may nest objects and arrays (`{}` is 1). Deeper input overflows
 * the stack of the recursive code that walks it (JSON.stringify fails near 10,000 levels), so it
 * is refused before parsing. 128 keeps every envelope Herald sends (the event's `data` plus one
 * level) within the default limit of common JSON parsers, e.g. Rust's serde_json.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether JSON text nests deeper than `max`, found by one pass over the characters (brackets
 * inside strings do not count), without recursion and without parsing. Malformed text is left
 * to the parser to refuse.
 */
export function jsonNestsDeeper(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2}))?$/;

/**
 * An RFC 3339 date-time (or a bare date, meaning midnight UTC) as epoch ms, or null unless it
 * names a real instant. Date.parse is not enough: it reads 2026-02-30 as 2 March and gives NaN
 * for a leap second, which passes a format check and then cannot be stored or shown. Leap
 * seconds (:60) are refused, since a JavaScript time cannot hold them.
 */
export function parseInstant(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || hour > 23 || minute > 59 || second > 59) return null;
  // setUTCFullYear, unlike Date.UTC, keeps years 0-99 as they are.
  const date = new Date(0);
  date.setUTCFullYear(year!, month! - 1, day!);
  // 30 February rolls over into March: a real date reads back the same day.
  if (date.getUTCDate() !== day) return null;
  const local = date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  const zone = m[8];
  if (zone === undefined || zone === 'Z' || zone === 'z') return local;
  const offH = Number(zone.slice(1, 3));
  const offM = Number(zone.slice(-2));
  if (offH > 23 || offM > 59) return null;
  return local - (zone[0] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
}
