import { createPublicKey } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { isStandardSecret } from '../core/signing.js';
import { decodeEncryptionKey } from '../store/secret-box.js';

/**
 * Typed readers for setting values. Each turns the raw text of an environment variable or a
 * flag into a value, or throws a `ParseError` whose text says what is accepted; the loader adds
 * the setting's name. `accepted` is also what the README's table and `herald config` show.
 */
export interface Parser<T> {
  (raw: string): T;
  readonly accepted: string;
}

export class ParseError extends Error {}

function parser<T>(accepted: string, read: (raw: string) => T): Parser<T> {
  return Object.assign(read, { accepted });
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** true/false, 1/0, yes/no, on/off in any case: anything else is an error, never "true". */
export const bool: Parser<boolean> = parser('true|false (also 1|0, yes|no, on|off)', (raw) => {
  const v = raw.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new ParseError();
});

/** A whole number in [min, max], written in decimal (no "1e3", no "0x10", no blanks). */
export function int(min: number, max: number): Parser<number> {
  return parser(`an integer from ${min} to ${max}`, (raw) => {
    const v = raw.trim();
    if (!/^-?\d+$/.test(v)) throw new ParseError();
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ParseError();
    return n;
  });
}

export function oneOf<const T extends string>(values: readonly T[], caseInsensitive = false): Parser<T> {
  return parser(values.join('|'), (raw) => {
    const v = raw.trim();
    const found = values.find((x) => (caseInsensitive ? x.toLowerCase() === v.toLowerCase() : x === v));
    if (found === undefined) throw new ParseError();
    return found;
  });
}

/** Any non-empty text, kept as written. */
export const text: Parser<string> = parser('any text', (raw) => raw);

/** An http:// or https:// URL. */
export const httpUrl: Parser<string> = parser('an http:// or https:// URL', (raw) => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ParseError();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ParseError();
  return url.toString();
});

/** Comma-separated CIDRs (IPv4 or IPv6, e.g. 10.1.2.0/24,fd00::/8), each checked. */
export const cidrList: Parser<string[]> = parser('comma-separated CIDRs, e.g. 10.1.2.0/24,fd00::/8', (raw) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const cidr of list) {
    if (!ipaddr.isValidCIDR(cidr)) throw new ParseError(`"${cidr}" is not a CIDR`);
  }
  return list;
});

/** `sqlite:PATH` or `postgres://…` (`postgresql://` too). */
export const databaseUrl: Parser<string> = parser('sqlite:PATH or postgres://user:pass@host:5432/db[?schema=name]', (raw) => {
  const v = raw.trim();
  if (/^sqlite:.+/.test(v)) return v;
  if (/^postgres(ql)?:\/\//.test(v)) {
    try {
      new URL(v);
    } catch {
      throw new ParseError('it is not a valid URL');
    }
    return v;
  }
  throw new ParseError();
});

/** 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -base64 32`). */
export const key32: Parser<string> = parser('32 bytes as 64 hex characters or base64 (e.g. `openssl rand -base64 32`)', (raw) => {
  if (!decodeEncryptionKey(raw)) throw new ParseError();
  return raw.trim();
});

/** A Standard Webhooks secret: `whsec_` + base64 of 24 to 64 bytes. */
export const standardSecret: Parser<string> = parser('whsec_ followed by base64 of 24 to 64 bytes', (raw) => {
  if (!isStandardSecret(raw.trim())) throw new ParseError();
  return raw.trim();
});

/** A PEM public key (RS256/ES256); `\\n` escapes are read as line breaks, for one-line env files. */
export const pemPublicKey: Parser<string> = parser('a PEM public key (-----BEGIN PUBLIC KEY-----…)', (raw) => {
  const v = raw.replace(/\\n/g, '\n').trim();
  try {
    createPublicKey(v);
  } catch {
    throw new ParseError();
  }
  return v;
});
