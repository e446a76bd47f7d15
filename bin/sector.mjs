#!/usr/bin/env node
// The `sector` command (package.json "bin"): `npx sector ...`. In a clone it runs the
// TypeScript sources through tsx (a dev dependency), so a stale dist/ is never used; in the
// image, which has no sources and no tsx, the compiled dist/cli/main.js.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'cli', 'main.ts');
let entry = path.join(root, 'dist', 'cli', 'main.js');
if (existsSync(source) && existsSync(path.join(root, 'node_modules', 'tsx'))) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
