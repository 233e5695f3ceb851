import type { LookupFunction } from 'node:net';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import { isAddressAllowed, isIpLiteral, isLocalName, type AddressPolicy } from '../core/network.js';
import type { AttemptErrorKind } from '../core/model.js';
import { systemResolver, type Resolver } from './resolver.js';

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface OutboundResponse {
  statusCode: number | null;
  /** First `maxResponseBytes` of the body, as text. */
  body: string | null;
  retryAfter: string | null;
  errorKind: AttemptErrorKind | null;
  errorMessage: string | null;
  durationMs: number;
  /** The deadline passed after the status line, before the body finished (see BODY_CUT_OFF). */
  cutOff?: boolean;
}

/** What the worker sends attempts through: in this thread (`HttpTransport`) or in delivery threads. */
export interface Transport {
  send(req: OutboundRequest): Promise<OutboundResponse>;
  close(): Promise<void>;
}

export interface TransportOptions {
  addressPolicy: AddressPolicy;
  resolver?: Resolver;
  /** Response body bytes kept for the delivery log. */
  maxResponseBytes?: number;
  /** Keep-alive connections per origin. */
  connectionsPerOrigin?: number;
  /** Called with every address a connection is about to be opened to (tests assert on it). */
  onDial?: (host: string, address: string) => void;
  /**
   * Send every webhook through this HTTP proxy (CONNECT tunnels), e.g. an egress proxy such as
   * Smokescreen. Herald still vets each target's addresses before asking the proxy, but the proxy
   * resolves the name again, so it should enforce its own egress policy too.
   */
  proxyUrl?: string;
}

const BLOCKED = 'HERALD_BLOCKED';
/** An attempt's error message when the status line came in time but the body did not finish. */
export const BODY_CUT_OFF = 'response body not finished within the timeout: the status counts, the body is what arrived';

const notPublic = (hostname: string, answers: readonly { address: string }[]): string =>
  `${hostname} resolves to ${answers.map((a) => a.address).join(', ') || 'nothing'}, which is not a public address`;

class BlockedAddressError extends Error {
  readonly code = BLOCKED;
}

/**
 * Sends one webhook POST. One undici Agent holds a keep-alive pool per origin. Every connection
 * goes through `lookup`, which resolves the name itself and hands the socket only an address the
 * policy allows, so the vetted address is the one connected to (no second lookup to rebind).
 * Redirects are never followed. Never throws: failures come back classified.
 */
export class HttpTransport implements Transport {
  private readonly agent: Dispatcher;
  private readonly resolver: Resolver;
  private readonly maxResponseBytes: number;

  constructor(private readonly opts: TransportOptions) {
    this.resolver = opts.resolver ?? systemResolver;
    this.maxResponseBytes = opts.maxResponseBytes ?? 4096;
    const pool = { connections: opts.connectionsPerOrigin ?? 128, keepAliveTimeout: 30_000 };
    this.agent = opts.proxyUrl
      ? new ProxyAgent({ uri: opts.proxyUrl, ...pool, proxyTls: { timeout: 10_000 } })
      : new Agent({ ...pool, connect: { lookup: this.lookup, timeout: 10_000 } });
  }

  async send(req: OutboundRequest): Promise<OutboundResponse> {
    const started = performance.now();
    const done = (r: Omit<OutboundResponse, 'durationMs'>): OutboundResponse => ({ ...r, durationMs: Math.round(performance.now() - started) });
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return done({ statusCode: null, body: null, retryAfter: null, errorKind: 'invalid_url', errorMessage: 'invalid URL' });
    }
    const blocked = this.checkHost(url.hostname) ?? (this.opts.proxyUrl ? await this.checkResolved(url.hostname) : null);
    if (blocked) return done({ statusCode: null, body: null, retryAfter: null, errorKind: 'blocked', errorMessage: blocked });
    return done(await this.post(url, req));
  }

  /**
   * The POST through undici's dispatch API: no response stream or async iterator per attempt
   * (those were a tenth of the delivery thread's time), just the status, `Retry-After` and the
   * first `maxResponseBytes` of the body. A longer body is cut off by aborting the request.
   *
   * One deadline, `timeoutMs` from now, covers the whole attempt: waiting for a pooled connection,
   * connecting, the response's status line and the body kept. undici's own timers restart on every
   * chunk, so a receiver trickling its body a byte at a time held the attempt (and the worker's
   * slot) indefinitely. At the deadline the attempt ends and the request is aborted: with no status
   * line yet it is a timeout; with one, the status counts under the profile's rules (the receiver
   * has answered) and the body kept so far is recorded with the message `BODY_CUT_OFF`.
   */
  private post(url: URL, req: OutboundRequest): Promise<Omit<OutboundResponse, 'durationMs'>> {
    const max = this.maxResponseBytes;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let statusCode = 0;
      let retryAfter: string | null = null;
      let settled = false;
      let controller: Dispatcher.DispatchController | null = null;
      const settle = (r: Omit<OutboundResponse, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(r);
      };
      const answered = (cutOff: string | null = null) => settle({
        statusCode,
        body: Buffer.concat(chunks).subarray(0, max).toString('utf8'),
        retryAfter,
        errorKind: statusCode >= 200 && statusCode < 300 ? null : 'http',
        errorMessage: cutOff,
        ...(cutOff ? { cutOff: true } : {}),
      });
      const failed = (err: unknown) => {
        const { kind, message } = classifyError(err);
        settle({ statusCode: null, body: null, retryAfter: null, errorKind: kind, errorMessage: message });
      };
      const deadline = setTimeout(() => {
        if (statusCode > 0) answered(`${BODY_CUT_OFF} (${req.timeoutMs} ms)`);
        else settle({ statusCode: null, body: null, retryAfter: null, errorKind: 'timeout', errorMessage: `no response within ${req.timeoutMs} ms` });
        // Not yet on a socket (queued for a connection, or connecting): aborted when it gets one.
        controller?.abort(new Error('attempt deadline passed'));
      }, req.timeoutMs);
      try {
        this.dispatch(url, req, {
          onRequestStart(c) {
            controller = c;
            if (settled) c.abort(new Error('attempt deadline passed'));
          },
          onResponseStart(_controller, status, headers) {
            statusCode = status;
            const value = headers['retry-after'];
            retryAfter = Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
          },
          onResponseData(c, chunk) {
            if (settled) return;
            chunks.push(chunk);
            size += chunk.length;
            if (size >= max) {
              answered();
              c.abort(new Error('response body longer than kept'));
            }
          },
          onResponseEnd: () => answered(),
          onResponseError: (_controller, err) => failed(err),
        });
      } catch (err) {
        failed(err); // refused before sending, e.g. a header value undici will not send
      }
    });
  }

  private dispatch(url: URL, req: OutboundRequest, handler: Dispatcher.DispatchHandler): void {
    this.agent.dispatch({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'POST',
      headers: req.headers,
      body: req.body,
      // The attempt's own deadline (see post) ends it first; these only close the socket behind it.
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    }, handler);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Literal addresses and local names are judged before any socket exists. */
  private checkHost(hostname: string): string | null {
    const policy = this.opts.addressPolicy;
    if (policy.allowPrivateNetworks) return null;
    if (isLocalName(hostname)) return `"${hostname}" is a local name`;
    if (isIpLiteral(hostname) && !isAddressAllowed(hostname, policy)) return `${hostname} is not a public address`;
    return null;
  }

  /** Through a proxy our lookup never runs: vet the name's addresses before handing it over. */
  private async checkResolved(hostname: string): Promise<string | null> {
    const policy = this.opts.addressPolicy;
    if (policy.allowPrivateNetworks || isIpLiteral(hostname)) return null;
    try {
      const answers = await this.resolver(hostname);
      const refused = answers.filter((a) => !isAddressAllowed(a.address, policy));
      if (answers.length === 0 || refused.length > 0) return notPublic(hostname, answers);
      return null;
    } catch {
      return null; // the proxy reports the DNS failure itself
    }
  }

  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolver(hostname).then(
      (answers) => {
        const allowed = answers.filter((a) => isAddressAllowed(a.address, this.opts.addressPolicy));
        if (allowed.length === 0) {
          callback(new BlockedAddressError(notPublic(hostname, answers)), '', 4);
          return;
        }
        const wanted = options.family === 6 || options.family === 4 ? allowed.filter((a) => a.family === options.family) : allowed;
        const usable = wanted.length > 0 ? wanted : allowed;
        try {
          for (const a of usable) this.opts.onDial?.(hostname, a.address);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '', 4); // a dial hook that throws refuses the connection (tests' last guard)
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'ABORT_ERR', 'UND_ERR_ABORTED']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL']);

export function classifyError(err: unknown): { kind: AttemptErrorKind; message: string } {
  let e = err as (Error & { code?: string; cause?: unknown }) | undefined;
  // undici wraps socket errors; the root cause carries the useful code.
  while (e && !e.code && e.cause instanceof Error) e = e.cause as Error & { code?: string; cause?: unknown };
  const code = e?.code ?? '';
  const name = e?.name ?? '';
  const message = `${code ? code + ': ' : ''}${e?.message ?? String(err)}`.slice(0, 500);
  if (code === BLOCKED) return { kind: 'blocked', message };
  if (TIMEOUT_CODES.has(code) || name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout', message };
  if (DNS_CODES.has(code)) return { kind: 'dns', message };
  if (/^ERR_(TLS|SSL)|CERT|UNABLE_TO_VERIFY|SELF_SIGNED|EPROTO/.test(code)) return { kind: 'tls', message };
  return { kind: 'connection', message };
}
