// `sector bench [name...]`: the benchmarks, exactly `npm run bench` (bench/run.ts), whose
// progress lines go to stderr. From a clone only: the image carries no benchmarks.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_HELP, parse } from './args.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { Io } from './io.ts';

export const help = `Usage: sector bench [<name>...]

Runs the benchmarks in bench/ (all, or those whose file name starts with a <name>: engine,
api, viz, pool, deploy), each in its own process, printing figures; progress on stderr. The
same as \`npm run bench -- <name>...\`. Needs a clone (the image has no benchmarks).

Exit: 0 all ran; 1 a benchmark failed; 2 bad usage or no bench/ here.

${COMMON_HELP}`;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return io.help(help);
  const runner = path.join(ROOT, 'bench', 'run.ts');
  if (!existsSync(runner)) throw new CliError(Exit.usage, `no benchmarks here (${runner} is missing): run sector bench from a clone`);
  const child = spawn(process.execPath, ['--import', 'tsx', runner, ...positionals], { cwd: ROOT, stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return code === 0 ? Exit.ok : Exit.checkFailed;
}
