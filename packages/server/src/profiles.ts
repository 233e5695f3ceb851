import type { ApiMount } from './api/app.js';
import { lilyRoutes } from './api/profiles/lily.js';
import { screenshotRoutes } from './api/profiles/screenshot.js';

/** Compatibility-profile routers mounted beside the native API. */
export const allMounts: ApiMount[] = [
  async (app, api) => app.register(lilyRoutes(api)),
  async (app, api) => app.register(screenshotRoutes(api)),
];
