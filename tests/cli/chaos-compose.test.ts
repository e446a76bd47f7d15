// The parts of `sector chaos --compose` that need no Docker engine, checked on the output of a
// real `docker compose ps --all --no-trunc --format json` of Sector's compose.yaml, captured
// from a project `o14chaos` on Docker 20.10 / compose 2.26 (fixtures/compose-ps.json with
// every service up, fixtures/compose-ps-faults.json with sim-worker-1 paused and sim-worker-2
// killed): which
// containers are workers and APIs, which are targets, and how the options combine. The
// faults themselves, dealt to a real compose project, are deploy/chaos-compose.sh's job.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseComposePs, selectVictims } from '../../cli/chaos-compose.ts';
import { roleOfCommand } from '../../cli/chaos-fleet.ts';
import { planOf } from '../../cli/chaos.ts';
import { CliError } from '../../cli/exit-codes.ts';
import { runSector } from './run-cli.ts';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('sector chaos --compose: the containers', () => {
  it("reads each container's role from its command, whatever its service is called", () => {
    const containers = parseComposePs(fixture('compose-ps.json'));
    expect(Object.fromEntries(containers.map((c) => [c.service, c.role]))).toEqual({
      api: 'api',
      'bot-botfaction': 'other',
      'bot-crimson': 'other',
      redis: 'other',
      'sim-worker-1': 'worker',
      'sim-worker-2': 'worker',
      tokens: 'other',
      viz: 'other',
    });
    expect(containers.find((c) => c.service === 'tokens')!.state).toBe('exited');
    expect(containers.every((c) => /^[0-9a-f]{12,64}$/.test(c.id) && c.name.startsWith('o14chaos-'))).toBe(true);
  });

  it('reads the JSON array older compose versions print as the same containers', () => {
    const lines = fixture('compose-ps.json').trim().split('\n');
    expect(parseComposePs(`[${lines.join(',')}]`)).toEqual(parseComposePs(lines.join('\n')));
    expect(parseComposePs('')).toEqual([]);
    expect(() => parseComposePs('no such service: x')).toThrow(CliError);
  });

  it('targets the workers, and the API only with --api; a paused or killed one stays a target (alive() decides when)', () => {
    const all = parseComposePs(fixture('compose-ps-faults.json'));
    expect(all.filter((c) => c.role === 'worker').map((c) => c.state)).toEqual(['paused', 'exited']);
    expect(selectVictims(all, false, 'o14chaos').map((c) => c.service)).toEqual(['sim-worker-1', 'sim-worker-2']);
    expect(selectVictims(all, true, 'o14chaos').map((c) => c.service)).toEqual(['api', 'sim-worker-1', 'sim-worker-2']);
  });

  it('refuses a project without workers (or without an API, with --api), naming what it found', () => {
    const all = parseComposePs(fixture('compose-ps.json'));
    expect(() => selectVictims(all.filter((c) => c.role !== 'worker'), false, 'p')).toThrow(/--compose p: no worker container .*found api \(api\), bot-botfaction \(other\)/);
    expect(() => selectVictims(all.filter((c) => c.role !== 'api'), true, 'p')).toThrow(/--compose p --api: no API container/);
    expect(() => selectVictims([], false, 'p')).toThrow(/found no container/);
  });

  it("finds the role argument of Sector's entry point in a local command line too", () => {
    expect(roleOfCommand(['/usr/bin/node', '--import', 'tsx', '/src/sector/main.ts', 'api'])).toBe('api');
    expect(roleOfCommand(['/usr/bin/tini', '--', 'node', 'dist/main.js', 'worker'])).toBe('worker');
    expect(roleOfCommand(['node', 'dist/deploy/tokens.js', '/var/lib/sector/tokens'])).toBe('other');
    expect(roleOfCommand(['node', 'dist/main.js'])).toBe('other');
  });
});

describe('sector chaos: the options', () => {
  it('one kind of target; --compose-file only with --compose; a project name compose accepts', () => {
    expect(planOf({}).mode).toBe('workers');
    expect(planOf({ pids: '1,2' })).toMatchObject({ mode: 'pids', pids: [1, 2] });
    expect(planOf({ compose: 'sector', 'compose-file': ['a.yaml', 'b.yaml'], api: true })).toMatchObject({ mode: 'compose', compose: { project: 'sector', files: ['a.yaml', 'b.yaml'] }, api: true });
    expect(() => planOf({ pids: '1', compose: 'x' })).toThrow('--pids and --compose: give one kind of target');
    expect(() => planOf({ 'compose-file': ['a.yaml'] })).toThrow('--compose-file: needs --compose');
    expect(() => planOf({ compose: 'My Project' })).toThrow(/--compose: expected a compose project name/);
  });

  it('without the docker CLI, --compose exits 4 naming it (nothing started)', async () => {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'no-docker-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const r = await runSector(['chaos', '--compose', 'sector'], { PATH: bin });
    rmSync(bin, { recursive: true });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('docker: not found on PATH');
  });
});
