// `sector bench <name>` runs the benchmark as `npm run bench -- <name>` does (bench/run.ts), with
// its progress on stderr and its figures on stdout: here the checkpoint benchmark, shortened.
import { describe, expect, it } from 'vitest';
import { RUN_DIR_ENV } from '../helpers/run-registry.ts';
import { runSector } from './run-cli.ts';

describe('sector bench', () => {
  it('runs the named benchmark: [1/1] progress on stderr, its figures on stdout, exit 0', async () => {
    const r = await runSector(['bench', 'checkpoints'], { BENCH_CHECKPOINT_ROUNDS: '3', [RUN_DIR_ENV]: process.env[RUN_DIR_ENV] ?? '' }, { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('[1/1] bench/checkpoints.ts');
    expect(r.stderr).toContain('1/1 benchmarks done');
    expect(r.stdout).toMatch(/10000 systems: one checkpoint \d+ KiB/);
  }, 300_000);
});
