/**
 * A candidate's training: `hitstream train --from clickhouse` in a child process at nice 19, so
 * the scorers on the same machine keep their CPU (bench autopilot: scoring p99 beside a training
 * ×2.6 at nice 19, ×3.4 at 10, the training no slower). In Kubernetes the child runs in the
 * autopilot's pod, bounded by its CPU limit (deploy/autopilot.yaml). Its labels are read up to the
 * run's start (`--labels-before`); judging counts events after it, of tracks it did not train on.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HitstreamError } from '../lib/errors.ts';
import type { Policy } from './policy.ts';
import { seconds } from './policy.ts';

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));
const NICENESS = '19';

export interface Trained {
  dir: string;
  trainRows: number;
  testRows: number;
  /** Grouped-protocol test RMSE per model (and the ensemble's when it shipped). */
  rmse: Record<string, number>;
  seconds: number;
}

/** The command line, for logs and the dry run. */
export const trainArgs = (policy: Policy, cut: Date, out: string) => [
  'train',
  '--from',
  'clickhouse',
  '--since',
  policy.training.since,
  '--labels-before',
  cut.toISOString(),
  '--min-rows',
  String(policy.training.min_labelled_rows),
  '--models',
  policy.training.models.join(','),
  // The deployed protocol only: the seed protocol is a comparison with the original paper.
  '--protocols',
  'grouped',
  '--jobs',
  '1',
  '--out',
  out,
];

/** Trains; rejects with the child's last lines when it fails or runs past the policy's timeout. */
export async function trainCandidate(
  policy: Policy,
  cut: Date,
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void,
): Promise<Trained> {
  const root = await mkdtemp(join(tmpdir(), 'hitstream-autopilot-'));
  const out = join(root, 'models');
  const t0 = performance.now();
  const child = spawn('nice', ['-n', NICENESS, process.execPath, BIN, ...trainArgs(policy, cut, out)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own group: a timeout stops it and anything it started
  });
  const tail: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 8) tail.shift();
      onLine(line);
    }
  });
  const limit = seconds(policy.training.timeout) * 1000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }, limit);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
    child.on('error', () => resolve(null));
  });
  clearTimeout(timer);
  if (timedOut)
    throw new HitstreamError(
      'training_failed',
      `training ran past training.timeout (${policy.training.timeout})`,
    );
  if (code !== 0)
    throw new HitstreamError(
      'training_failed',
      `training exited with ${code}: ${tail.filter(Boolean).slice(-3).join(' | ') || 'no output'}`,
    );
  const report = JSON.parse(await readFile(join(root, 'report.json'), 'utf8')) as {
    protocols: { grouped: Record<string, unknown> };
  };
  const grouped = report.protocols.grouped;
  const rmse = Object.fromEntries(
    [...policy.training.models, 'ensemble']
      .map((m) => [m, (grouped[m] as { metrics?: { rmse: number } } | undefined)?.metrics?.rmse])
      .filter(([, v]) => typeof v === 'number'),
  ) as Record<string, number>;
  return {
    dir: out,
    trainRows: Number(grouped.trainRows),
    testRows: Number(grouped.testRows),
    rmse,
    seconds: (performance.now() - t0) / 1000,
  };
}
