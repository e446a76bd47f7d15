// The production build: TypeScript emitted as JavaScript with the sources' layout (tsc, per
// tsconfig.build.json), plus the files the code reads beside itself at run time. The image
// then runs `node dist/main.js` with no tsx; development keeps running the sources with tsx.
//
// Why tsc emit and not a bundle per role: main.ts loads each role with a dynamic import, so a
// viz process never loads the engine; emitted files keep that for free, and keep the
// `import.meta.url`-relative reads (the Lua script, the viz page) working with a plain copy.
// The only tool is the TypeScript compiler the project already type-checks with.
//
//   npm run build [-- <outDir>]          (default dist/)
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files read at run time relative to the module reading them, copied to the same place under outDir. */
export const RUNTIME_ASSETS = ['api/lua', 'viz/public'] as const;

export function build(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  for (const asset of RUNTIME_ASSETS) cpSync(path.join(ROOT, asset), path.join(outDir, asset), { recursive: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  build(path.resolve(process.argv[2] ?? path.join(ROOT, 'dist')));
}
