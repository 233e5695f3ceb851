import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The compiled file a worker thread runs, given the URL of its `.js` beside the calling module.
 * Under the test runner the caller is TypeScript source, which a thread cannot load: the build is
 * used instead (`npm test` builds first).
 */
export function threadEntry(beside: URL): URL {
  if (existsSync(fileURLToPath(beside))) return beside;
  const path = beside.pathname.replace(/\/src\/(?!.*\/src\/)/, '/dist/');
  return new URL(`file://${path}`);
}
