// Logs for people and for machines: pretty-printed when stdout is a terminal (a pseudo-terminal
// made by util-linux `script` here), JSON lines otherwise, and LOG_FORMAT overrides either way.
// The role run is a bot without its token: it logs one fatal line through the logger and exits.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.ts';
import { registerChild } from '../helpers/run-registry.ts';

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

async function failingBot(opts: { terminal: boolean; format?: string }): Promise<{ code: number | null; lines: string[] }> {
  const node = [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'main.ts'), 'bot'];
  const quoted = node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // script -q: no banners; -f: flush at once; -e: its exit status is the command's; -c: the command
  const [cmd, args] = opts.terminal ? ['script', ['-qfec', quoted, '/dev/null']] : [node[0]!, node.slice(1)];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  if (opts.format) env.LOG_FORMAT = opts.format;
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  registerChild(child, 'log-format bot');
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, lines: stripAnsi(out).split(/\r?\n/).filter(Boolean) };
}

const expectJson = (lines: string[]) => {
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(first).toMatchObject({ level: 60, role: 'bot', msg: 'start-up failed' });
};
const expectPretty = (lines: string[]) => {
  expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] FATAL: bot \[default\]: start-up failed\s*$/);
  expect(lines.join('\n')).toContain('BOT_TOKEN is not set');
  expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
};

describe('log format', () => {
  it.each([
    { terminal: true, format: undefined, expected: 'pretty' },
    { terminal: false, format: undefined, expected: 'json' },
    { terminal: true, format: 'json', expected: 'json' },
    { terminal: false, format: 'pretty', expected: 'pretty' },
  ])('stdout a terminal: $terminal, LOG_FORMAT=$format: $expected', async ({ terminal, format, expected }) => {
    const { code, lines } = await failingBot({ terminal, format });
    expect(code).toBe(1);
    if (expected === 'json') expectJson(lines);
    else expectPretty(lines);
  });
});
