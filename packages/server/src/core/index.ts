export * from './clock.js';
export * from './errors.js';
export * from './ids.js';
export * from './model.js';
export * from './network.js';
export * from './retry.js';
export * from './signing.js';
export * from './profiles/index.js';
