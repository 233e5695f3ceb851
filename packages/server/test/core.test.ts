import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { decideAfterAttempt, isRetryable, MAX_FREE_THROTTLES, NATIVE_RETRY_POLICY, parseRetryAfter, type AttemptResult, type RetryPolicy } from '../src/core/retry.js';
import { signHexSha256, signStandard, safeEqual } from '../src/core/signing.js';
import { standardProfile } from '../src/core/profiles/standard.js';
import { isAddressAllowed, isIpLiteral, isLocalName } from '../src/core/network.js';
import { jsonNestsDeeper, parseInstant } from '../src/core/input.js';

const fail = (statusCode: number | null, errorKind: AttemptResult['errorKind'] = statusCode === null ? 'connection' : 'http', retryAfterMs: number | null = null): AttemptResult =>
  ({ ok: false, statusCode, errorKind, retryAfterMs });
const noJitter = () => 0.5;

describe('native retry policy', () => {
  it('follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then fails', () => {
    const expected = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
    expect(NATIVE_RETRY_POLICY.delaysMs).toEqual([0, ...expected]);
    const now = 1_000_000;
    expected.forEach((delay, i) => {
      const d = decideAfterAttempt(NATIVE_RETRY_POLICY, i + 1, fail(500), now, noJitter);
      expect(d).toEqual({ status: 'retrying', nextAttemptAt: now + delay, signal: { kind: 'failure' } });
    });
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 8, fail(500), now, noJitter)).toEqual({ status: 'failed', nextAttemptAt: null, signal: { kind: 'failure' } });
  });

  it('applies ±20% jitter and never more', () => {
    const low = decideAfterAttempt(NATIVE_RETRY_POLICY, 2, fail(500), 0, () => 0);
    const high = decideAfterAttempt(NATIVE_RETRY_POLICY, 2, fail(500), 0, () => 0.999999);
    expect(low.nextAttemptAt).toBe(240_000);
    expect(high.nextAttemptAt).toBeGreaterThan(359_000);
    expect(high.nextAttemptAt).toBeLessThanOrEqual(360_000);
  });

  it('delivers on success and never retries blocked or invalid targets', () => {
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, { ok: true, statusCode: 204, errorKind: null, retryAfterMs: null }, 0)).toEqual({ status: 'delivered', nextAttemptAt: null, signal: { kind: 'ok' } });
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(null, 'blocked'), 0).status).toBe('failed');
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(null, 'invalid_url'), 0).status).toBe('failed');
  });

  it('treats 429/503 with Retry-After as a throttle: waits as asked (bounded), without using an attempt', () => {
    const now = 0;
    const d = decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(429, 'http', 120_000), now, noJitter);
    expect(d).toEqual({ status: 'retrying', nextAttemptAt: 120_000, signal: { kind: 'throttled', until: 120_000 } });
    // A short Retry-After is honoured as given (floored at 1 s so `0` cannot spin).
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(503, 'http', 0), now, noJitter).nextAttemptAt).toBe(1_000);
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(429, 'http', 999 * 3_600_000), now, noJitter).nextAttemptAt).toBe(NATIVE_RETRY_POLICY.retryAfterCapMs);
    // Even on the last scheduled attempt, a throttle does not fail the delivery.
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 8, fail(429, 'http', 1_000), now, noJitter).status).toBe('retrying');
    // Throttled attempts do not advance the schedule: attempt 3 after 2 throttles uses the 1st retry delay.
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, { attemptNumber: 3, throttledCount: 2, attemptLimit: null }, fail(500), now, noJitter).nextAttemptAt).toBe(5_000);
    // Retry-After on other statuses, or 429 without it, is an ordinary failure.
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(500, 'http', 120_000), now, noJitter).nextAttemptAt).toBe(5_000);
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(429), now, noJitter).signal).toEqual({ kind: 'failure' });
  });

  it('stops treating throttles as free after MAX_FREE_THROTTLES, so a receiver cannot stall a delivery forever', () => {
    const d = decideAfterAttempt(NATIVE_RETRY_POLICY, { attemptNumber: MAX_FREE_THROTTLES + 1, throttledCount: MAX_FREE_THROTTLES, attemptLimit: null }, fail(429, 'http', 1_000), 0, noJitter);
    expect(d.signal).toEqual({ kind: 'failure' });
    expect(d.nextAttemptAt).toBe(5_000);
  });

  it('a 410 Gone fails the delivery and signals the endpoint is gone on the native profile only', () => {
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, 1, fail(410), 0, noJitter)).toEqual({ status: 'failed', nextAttemptAt: null, signal: { kind: 'gone' } });
    const compat: RetryPolicy = { ...NATIVE_RETRY_POLICY, receiverSignals: false };
    expect(decideAfterAttempt(compat, 1, fail(410), 0, noJitter)).toEqual({ status: 'retrying', nextAttemptAt: 5_000, signal: { kind: 'failure' } });
    expect(decideAfterAttempt(compat, 1, fail(429, 'http', 120_000), 0, noJitter).nextAttemptAt).toBe(5_000);
  });

  it('a manual replay of a finished delivery gets exactly one attempt', () => {
    const replay = { attemptNumber: 9, throttledCount: 0, attemptLimit: 9 };
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, replay, fail(500), 0, noJitter).status).toBe('failed');
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, replay, fail(429, 'http', 1_000), 0, noJitter).status).toBe('failed');
    expect(decideAfterAttempt(NATIVE_RETRY_POLICY, { attemptNumber: 2, throttledCount: 0, attemptLimit: 3 }, fail(500), 0, noJitter).status).toBe('retrying');
  });

  it('a transient-only policy retries 5xx, 429 and network errors but not other 4xx', () => {
    const transient: RetryPolicy = { ...NATIVE_RETRY_POLICY, retryOn: 'transient' };
    expect(isRetryable(transient, fail(500))).toBe(true);
    expect(isRetryable(transient, fail(429))).toBe(true);
    expect(isRetryable(transient, fail(null, 'timeout'))).toBe(true);
    expect(isRetryable(transient, fail(null, 'dns'))).toBe(true);
    expect(isRetryable(transient, fail(404))).toBe(false);
    expect(isRetryable(transient, fail(400))).toBe(false);
    expect(isRetryable(NATIVE_RETRY_POLICY, fail(404))).toBe(true);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('30', 0)).toBe(30_000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter(undefined, 0)).toBeNull();
  });
});

describe('signature schemes', () => {
  it('standard signatures verify with the standardwebhooks library', () => {
    const secret = standardProfile.generateSecret();
    const body = '{"type":"a.b","timestamp":"2026-01-01T00:00:00.000Z","data":{"x":1}}';
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(ts), 'webhook-signature': signStandard([secret], 'evt_1', ts, body) };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('1}', '2}'), headers)).toThrow();
  });

  it('signs with every secret during a rotation, each one verifiable', () => {
    const [a, b] = [standardProfile.generateSecret(), standardProfile.generateSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const sig = signStandard([a, b], 'evt_2', ts, '{}');
    expect(sig.split(' ')).toHaveLength(2);
    for (const s of [a, b]) expect(() => new Webhook(s).verify('{}', { 'webhook-id': 'evt_2', 'webhook-timestamp': String(ts), 'webhook-signature': sig })).not.toThrow();
  });

  it('checks caller-supplied standard secrets', () => {
    expect(standardProfile.checkSecret(standardProfile.generateSecret())).toBeNull();
    expect(standardProfile.checkSecret('whsec_short')).not.toBeNull();
    expect(standardProfile.checkSecret('plain-text-secret-of-sufficient-length')).not.toBeNull();
  });

  it('hex sha256 signatures match a plain HMAC', async () => {
    const { createHmac } = await import('node:crypto');
    expect(signHexSha256('s3cret', 'body')).toBe(`sha256=${createHmac('sha256', 's3cret').update('body').digest('hex')}`);
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('address policy', () => {
  const strict = { allowPrivateNetworks: false, allowCidrs: [] };
  it('refuses loopback, private, link-local, CGNAT, ULA and mapped addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fc00::1', 'fe80::1', '::ffff:127.0.0.1', '224.0.0.1']) {
      expect(isAddressAllowed(a, strict), a).toBe(false);
    }
    expect(isAddressAllowed('93.184.216.34', strict)).toBe(true);
    expect(isAddressAllowed('2606:2800:220:1::1', strict)).toBe(true);
  });
  it('refuses IPv6 forms that carry an IPv4 address or lie outside global unicast (2000::/3)', () => {
    for (const a of [
      '::7f00:1', '::127.0.0.1', '::a00:1', '::a9fe:a9fe', '::5db8:d822', // IPv4-compatible ::/96, even of a public IPv4
      '::ffff:0:a00:1', '64:ff9b::a00:1', '64:ff9b:1::a00:1', '2002:a00:1::1', '2001:0:a00:1::1', // SIIT, NAT64 (both), 6to4, Teredo
      '100::1', '::2', '4000::1', 'e000::1',
    ]) {
      expect(isAddressAllowed(a, strict), a).toBe(false);
      expect(isAddressAllowed(a, { allowPrivateNetworks: false, allowCidrs: ['127.0.0.0/8', '10.0.0.0/8'] }), `${a} with IPv4 CIDRs allowed`).toBe(false);
    }
    expect(isAddressAllowed('2a00:1450:4001:80b::200e', strict)).toBe(true);
  });
  it('honours the allow-list and the development switch', () => {
    expect(isAddressAllowed('10.1.2.3', { allowPrivateNetworks: false, allowCidrs: ['10.1.2.0/24'] })).toBe(true);
    expect(isAddressAllowed('10.1.3.3', { allowPrivateNetworks: false, allowCidrs: ['10.1.2.0/24'] })).toBe(false);
    expect(isAddressAllowed('127.0.0.1', { allowPrivateNetworks: true, allowCidrs: [] })).toBe(true);
  });
  it('recognises odd spellings of addresses and local names', () => {
    expect(isIpLiteral('127.1')).toBe(true);
    expect(isIpLiteral('0x7f.0.0.1')).toBe(true);
    expect(isIpLiteral('example.com')).toBe(false);
    expect(isLocalName('LOCALHOST.')).toBe(true);
    expect(isLocalName('api.localhost')).toBe(true);
    expect(isLocalName('localhost.example.com')).toBe(false);
  });
});

describe('untrusted input', () => {
  it('parses only real RFC 3339 instants', () => {
    expect(parseInstant('2026-01-31T12:00:00Z')).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseInstant('2026-01-31T12:00:00.5+01:30')).toBe(Date.UTC(2026, 0, 31, 10, 30, 0, 500));
    expect(parseInstant('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
    expect(parseInstant('2026-03-01')).toBe(Date.UTC(2026, 2, 1));
    expect(parseInstant('0001-01-01T00:00:00Z')).toBe(-62135596800000);
    for (const bad of ['2026-02-30T00:00:00Z', '2027-02-29T00:00:00Z', '2030-01-01T25:00:00Z', '2026-06-30T23:59:60Z', '2026-01-01T00:60:00Z',
      '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00', '+275760-09-13T00:00:00Z', 'March 7, 2026', '']) {
      expect(parseInstant(bad), bad).toBeNull();
    }
  });
  it('measures JSON nesting in one pass, ignoring brackets inside strings', () => {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(jsonNestsDeeper(nested(128), 128)).toBe(false);
    expect(jsonNestsDeeper(nested(129), 128)).toBe(true);
    expect(jsonNestsDeeper(`{"a":"${'['.repeat(500)}\\"[[","b":[{}]}`, 3)).toBe(false);
    expect(jsonNestsDeeper(`{"a":"\\\"","b":[[[[]]]]}`, 4)).toBe(true);
    expect(jsonNestsDeeper(nested(1_000_000), 128)).toBe(true);
  });
});

describe('ids', () => {
  it('stay monotonic when the time goes a little back, and keep a time far behind as it is', async () => {
    const { newId } = await import('../src/core/ids.js');
    const { decodeTime } = await import('ulid');
    const now = Date.now();
    const ids = [newId('x', now), newId('x', now - 5), newId('x', now), newId('x', now - 1000)];
    expect([...ids].sort()).toEqual(ids);
    const old = Date.parse('2020-01-01T00:00:00Z');
    const [d, e] = [newId('x', old), newId('x', old)];
    expect(d < e).toBe(true);
    expect(decodeTime(d.slice(2))).toBe(old);
    expect(newId('x', now) > ids.at(-1)!).toBe(true);
  });
});
