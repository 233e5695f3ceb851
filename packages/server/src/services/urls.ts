import { HeraldError } from '../core/errors.js';
import { isAddressAllowed, isIpLiteral, isLocalName } from '../core/network.js';
import type { Config } from '../config/index.js';

/** Counted on the URL as sent: its WHATWG serialisation, after percent-encoding and IDNA (`é` is 6 characters). */
export const MAX_URL_LENGTH = 2048;

/** The URL as Herald will send it, or null if it is not a valid absolute URL. */
export function parseUrl(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

/**
 * Checks an endpoint URL when it is created or changed. Names are resolved again (and vetted) at
 * every attempt; here we refuse what is wrong whatever DNS says: bad syntax, other schemes,
 * credentials in the URL, literal private addresses and local names.
 */
export function checkEndpointUrl(raw: string, config: Pick<Config, 'allowPrivateNetworks' | 'allowCidrs'>, field = 'url'): string {
  const fail = (message: string, code: string) => new HeraldError('validation_error', message, [{ field, message, code }]);
  const tooLong = () => fail(`URL is longer than ${MAX_URL_LENGTH} characters (counted after percent-encoding)`, 'TOO_LONG');
  if (raw.length > MAX_URL_LENGTH) throw tooLong();
  const url = parseUrl(raw);
  if (!url) throw fail('URL is not a valid absolute URL', 'INVALID_FORMAT');
  if (url.href.length > MAX_URL_LENGTH) throw tooLong();
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fail('URL must use http or https', 'INVALID_FORMAT');
  if (url.username || url.password) throw fail('URL must not contain credentials', 'INVALID_FORMAT');
  if (!config.allowPrivateNetworks) {
    const host = url.hostname;
    if (isLocalName(host)) throw fail(`"${host}" is a local name; endpoints must be reachable on the public internet`, 'PRIVATE_ADDRESS');
    if (isIpLiteral(host) && !isAddressAllowed(host, { allowPrivateNetworks: false, allowCidrs: config.allowCidrs })) {
      throw fail(`${host} is not a public address; endpoints must be reachable on the public internet`, 'PRIVATE_ADDRESS');
    }
  }
  return raw;
}
