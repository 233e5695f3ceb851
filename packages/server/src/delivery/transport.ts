import type { LookupFunction } from 'node:net';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
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
    try {
      const res = await request(url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        // undici's own timers (no AbortSignal per request: it cost ~2% of delivery CPU); the
        // connect timeout is the Agent's, so the worst case is connect + timeoutMs.
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const body = await this.readCapped(res.body);
      const retryAfter = res.headers['retry-after'];
      return done({
        statusCode: res.statusCode,
        body,
        retryAfter: Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null),
        errorKind: res.statusCode >= 200 && res.statusCode < 300 ? null : 'http',
        errorMessage: null,
      });
    } catch (err) {
      const { kind, message } = classifyError(err);
      return done({ statusCode: null, body: null, retryAfter: null, errorKind: kind, errorMessage: message });
    }
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
        for (const a of usable) this.opts.onDial?.(hostname, a.address);
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };

  private async readCapped(body: AsyncIterable<Buffer> & { dump?: (o?: { limit: number }) => Promise<void> }): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= this.maxResponseBytes) break;
    }
    // Leaving the loop early destroys the stream; the text kept is the first `maxResponseBytes` bytes.
    return Buffer.concat(chunks).subarray(0, this.maxResponseBytes).toString('utf8');
  }
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
