// `npm run bench` (and `sector bench`): runs every benchmark in bench/ in turn, each in its own
// process so that one's load does not colour the next. Figures, not assertions. Progress on
// stderr: which benchmark of how many, and every 30 s how long the current one has run.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
const PROGRESS_EVERY_MS = 30_000;
const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

function runOne(file: string): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, file)], { stdio: 'inherit' });
    const started = Date.now();
    const ticker = setInterval(() => process.stderr.write(`… bench/${file} running for ${secs(Date.now() - started)}\n`), PROGRESS_EVERY_MS);
    child.once('exit', (code, signal) => {
      clearInterval(ticker);
      resolve(code ?? signal ?? -1);
    });
  });
}

const t0 = Date.now();
let failed = 0;
for (const [i, file] of files.entries()) {
  process.stderr.write(`[${i + 1}/${files.length}] bench/${file} (${secs(Date.now() - t0)} elapsed)\n`);
  console.log(`\n=== bench/${file}`);
  const r = await runOne(file);
  if (r !== 0) {
    failed += 1;
    console.log(`bench/${file} exited with ${r}`);
  }
}
process.stderr.write(`${files.length - failed}/${files.length} benchmarks done in ${secs(Date.now() - t0)}\n`);
process.exit(failed ? 1 : 0);
