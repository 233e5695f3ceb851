#!/usr/bin/env node
// The `herald` command. npm links a package's bin only if the file exists at install time, and
// dist/ is built after that in a fresh clone (by the root `prepare` script), so the link points
// at this committed file rather than at dist/.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/bin/herald.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('herald: not built yet (dist/ is missing): run `npm run build` in the repository');
  process.exit(1);
}
await import(cli.href);
