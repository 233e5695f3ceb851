/**
 * Request headers as the runtimes hand them over: a Web `Headers` (fetch, Next.js, Hono,
 * Workers), or a plain object such as Node's `IncomingHttpHeaders` (Express, Fastify).
 */
export type HeadersLike = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A case-insensitive reader; repeated headers are joined with ", " as `Headers` does. */
export function headerReader(headers: HeadersLike): (name: string) => string | undefined {
  if (typeof (headers as Headers).get === 'function') {
    const h = headers as Headers;
    return (name) => h.get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [key, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (value === undefined) continue;
    lower.set(key.toLowerCase(), typeof value === 'string' ? value : value.join(', '));
  }
  return (name) => lower.get(name);
}
