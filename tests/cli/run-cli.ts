// Runs the `sector` command as a user does, through its bin (bin/sector.mjs), as a real
// process: stdout, stderr and the exit code.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/processes.ts';
import { registerChild } from '../helpers/run-registry.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const SECTOR_BIN = path.join(REPO_ROOT, 'bin', 'sector.mjs');

export function runSector(args: string[], env: Record<string, string> = {}, opts: { cwd?: string; bin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [opts.bin ?? SECTOR_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registerChild(child, `sector ${args[0] ?? ''}`);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
