// Vitest global set-up (runs once, in the main vitest process): a pid directory for this run,
// which the test helpers register every process they start in (tests/helpers/run-registry.ts).
// What is still registered at the end (a crashed worker's, a failed hook's) is killed by the
// teardown, or at once when the run is interrupted: vitest's main process dies of SIGINT and
// SIGTERM without a teardown, leaving its workers' children running.
import { rmSync } from 'node:fs';
import { createRunDir, killRegistered, RUN_DIR_ENV, sweepAbandonedRuns } from './helpers/run-registry.ts';

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export default function setup(): () => void {
  report('an earlier test run that was killed', sweepAbandonedRuns());
  const dir = createRunDir();
  process.env[RUN_DIR_ENV] = dir; // inherited by the test workers
  const cleanUp = (who: string) => {
    report(who, killRegistered(dir));
    rmSync(dir, { recursive: true, force: true });
  };
  const onInterrupt = (signal: NodeJS.Signals) => {
    cleanUp(`the interrupted test run (${signal})`);
    process.kill(process.pid, signal); // our handlers are gone (once): the default action, as without them
  };
  for (const s of INTERRUPTS) process.once(s, onInterrupt);
  return () => {
    for (const s of INTERRUPTS) process.off(s, onInterrupt);
    cleanUp('the tests');
  };
}

function report(who: string, killed: { pid: number; what: string }[]): void {
  if (killed.length > 0) process.stderr.write(`killed ${killed.length} process(es) ${who} left running: ${killed.map((e) => `${e.what} (pid ${e.pid})`).join(', ')}\n`);
}
