import type { ApiMount } from './api/app.js';

/** Compatibility-profile routers mounted beside the native API. */
export const allMounts: ApiMount[] = [];
