import type { ApiMount } from './api/app.js';
import { lilyRoutes } from './api/profiles/lily.js';
import { SCREENSHOT_PREFIX, screenshotErrorHandler, screenshotRoutes } from './api/profiles/screenshot.js';

/** Compatibility-profile routers mounted beside the native API. */
export const allMounts: ApiMount[] = [
  { register: async (app, api) => app.register(lilyRoutes(api)) },
  { register: async (app, api) => app.register(screenshotRoutes(api)), errors: { prefix: SCREENSHOT_PREFIX, handler: screenshotErrorHandler } },
];
