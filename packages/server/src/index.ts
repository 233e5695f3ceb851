/**
 * Herald's public surface for embedding and tests.
 * @example
 * const herald = await Herald.create({ config: loadConfig() });
 * await herald.listen();
 */
export { Herald, type HeraldOptions } from './herald.js';
export { loadConfig, type Config } from './config/index.js';
export * from './core/index.js';
export type { Resolver, ResolvedAddress } from './delivery/resolver.js';
export { dnsNotFound } from './delivery/resolver.js';
