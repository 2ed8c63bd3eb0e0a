/**
 * Background processes owned by the native stack. Each one has a PID file; `stop` only signals a PID
 * whose command line still contains the marker we started it with (its config path), so a stale PID
 * file can never make us kill an unrelated process. Nothing is ever stopped by process name.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HitstreamError } from '../../lib/errors.ts';

export interface ManagedProcess {
  name: string;
  pidFile: string;
  /** A string that must appear in /proc/<pid>/cmdline for the PID to be ours. */
  marker: string;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The PID of a running process we started, or undefined (stale PID files are removed). */
export function runningPid(p: ManagedProcess): number | undefined {
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    /* gone */
  }
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && cmdline.includes(p.marker)) return pid;
  rmSync(p.pidFile, { force: true });
  return undefined;
}

export function startDetached(
  p: ManagedProcess,
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): number {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  mkdirSync(dirname(p.pidFile), { recursive: true });
  const log = openSync(opts.logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(log);
  if (child.pid === undefined)
    throw new HitstreamError('STACK_SPAWN_FAILED', `could not start ${p.name} (${command})`);
  child.unref();
  writeFileSync(p.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM, then SIGKILL after `graceMs`. Returns true when something was stopped. */
export async function stopProcess(p: ManagedProcess, graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(p);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  rmSync(p.pidFile, { force: true });
  return true;
}

export async function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it returns true; fails with `what` and the log's last lines on timeout. */
export async function waitUntil(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; what: string; pid?: number; logFile?: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (opts.pid !== undefined && !isAlive(opts.pid)) break;
    await sleep(150);
  }
  const tail =
    opts.logFile && existsSync(opts.logFile)
      ? readFileSync(opts.logFile, 'utf8').split('\n').slice(-15).join('\n')
      : '';
  const died =
    opts.pid !== undefined && !isAlive(opts.pid)
      ? 'exited'
      : `did not answer within ${opts.timeoutMs / 1000}s`;
  throw new HitstreamError(
    'STACK_NOT_READY',
    `${opts.what} ${died}${opts.logFile ? ` (log: ${opts.logFile})` : ''}\n${tail}`,
  );
}
