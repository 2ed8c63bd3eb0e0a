/** The autopilot as a process for the integration tests, its audit trail, and CSV parts of the sample. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { csvParts } from '../../bench/csv-parts.ts';
import type { Config } from '../../lib/config.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { createTrail, type Step } from '../../registry/trail.ts';
import type { Serving } from '../../registry/serving.ts';
import { eventually } from './services.ts';

export const SAMPLE = 'data/spotify_tracks_sample.csv';

/** The sample's rows cut into named CSV files in `dir`. */
export const sampleParts = <K extends string>(dir: string, parts: Record<K, (rows: string[]) => string[]>) =>
  csvParts(SAMPLE, dir, parts);

export { renamed } from '../../bench/csv-parts.ts';

/** An autopilot process with `policy` and `env`; `output` holds what it printed. */
export function autopilotProcess(dir: string, env: NodeJS.ProcessEnv, port: number) {
  let child: ChildProcess | undefined;
  const state = { output: '' };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill(signal);
    await exited;
  };
  return {
    state,
    stop,
    async start(policy: string) {
      await stop();
      state.output = '';
      const file = join(dir, 'policy.yml');
      writeFileSync(file, policy);
      child = spawn(process.execPath, ['bin/hitstream.js', 'autopilot'], {
        env: {
          ...env,
          HITSTREAM_HOME: dir,
          HITSTREAM_AUTOPILOT_POLICY: file,
          HITSTREAM_AUTOPILOT_PORT: String(port),
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (b: Buffer) => (state.output += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (state.output += b.toString()));
      await eventually(
        () =>
          fetch(`http://127.0.0.1:${port}/health`)
            .then((r) => r.ok)
            .catch(() => false),
        (ok) => ok || child!.exitCode !== null,
        60_000,
      );
      assert.equal(child.exitCode, null, state.output);
    },
  };
}

/** The steps of the autopilot's latest run, from the audit trail. */
export async function latestRun(cfg: Config): Promise<Step[]> {
  const ch = createClickhouse(cfg);
  try {
    return (await createTrail(ch).runs(1))[0] ?? [];
  } finally {
    await ch.close();
  }
}

/** Until this process's worker serves `version` as shadow (events before that have no shadow row). */
export const shadowLoaded = (serving: Serving, version: string) =>
  eventually(
    () => Promise.resolve(serving.shadow()?.version),
    (v) => v === version,
    60_000,
  );
