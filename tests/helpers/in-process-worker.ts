// A sim worker started inside the test process, for tests that need its hooks (to hold a tick
// at a chosen point) and its log lines as objects. Stop it with stop() in a `finally`.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type WorkerHooks, type WorkerService, startWorker } from '../../engine/worker.ts';
import { parseConfig } from '../../shared/config.ts';
import { pollUntil } from './processes.ts';

export interface InProcessWorker {
  service: WorkerService;
  /** its log lines so far, parsed */
  lines: Record<string, unknown>[];
  /** the first line after `since` (an index into `lines`, default 0) that matches */
  waitForLine(match: (l: Record<string, unknown>) => boolean, what: string, since?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startInProcessWorker(env: Record<string, string>, hooks: WorkerHooks = {}): Promise<InProcessWorker> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const config = parseConfig({ LOG_LEVEL: 'silent', WORLD_VICTORY: 'none', ...env }); // no match end unless asked
  const log = pino({ level: 'debug', base: { who: config.WORKER_ID } }, sink);
  // A worker hosts every registered simulation; the test's hooks are about its own (SIM_ID).
  const own = (hook: ((tick: number, simId: string) => Promise<void>) | undefined) =>
    hook && ((tick: number, simId: string) => (simId === config.SIM_ID ? hook(tick, simId) : Promise.resolve()));
  const service = await startWorker(config, log, { beforeExec: own(hooks.beforeExec), afterExec: own(hooks.afterExec) });
  let stopped = false;
  return {
    service,
    lines,
    waitForLine: (match, what, since = 0, timeoutMs = 20_000) => pollUntil(() => lines.slice(since).find(match), what, timeoutMs, 10),
    async stop() {
      if (stopped) return;
      stopped = true;
      await service.stop();
    },
  };
}

/** A gate for a hook: `hold()` inside the hook waits until the test calls `open()`. */
export function gate(): { hold(): Promise<void>; open(): void; readonly waiting: boolean } {
  let release: (() => void) | undefined;
  let opened = false;
  return {
    hold: () =>
      opened
        ? Promise.resolve()
        : new Promise<void>((r) => {
            release = r;
          }),
    open() {
      opened = true;
      release?.();
    },
    get waiting() {
      return release !== undefined && !opened;
    },
  };
}
