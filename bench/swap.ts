/**
 * `hitstream bench swap`: event → predictions-topic latency while the workers hot-swap to a new
 * version, against steady state, at a fixed rate. The promotion comes after `--steady-seconds`;
 * "during the swap" is the 10 s from the promotion (download, load and warm-up run in the
 * background of every worker, then the switch). Goal: p99 during ≤ 2× steady.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { ENSEMBLE_FILE } from '../models/ensemble.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { MODEL_NAMES } from '../schemas/index.ts';
import { say, withIsolatedStack } from './isolated-stack.ts';
import { startLatencyProbe } from './latency-probe.ts';
import { printResult, quantile } from './report.ts';

/** The checkout's models under the version id `<id>-<suffix>`, in a temporary folder. */
export function copyAsVersion(suffix: string): { dir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'hitstream-bench-version-'));
  cpSync(ARTIFACTS_DIR, root, { recursive: true });
  for (const m of MODEL_NAMES) {
    const path = join(root, m, 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { version: string };
    writeFileSync(path, JSON.stringify({ ...manifest, version: `${manifest.version}-${suffix}` }));
  }
  // The ensemble names its run too: renamed with the models, or loading the copy refuses it.
  const ensemble = join(root, ENSEMBLE_FILE);
  if (existsSync(ensemble)) {
    const e = JSON.parse(readFileSync(ensemble, 'utf8')) as { version: string };
    writeFileSync(ensemble, JSON.stringify({ ...e, version: `${e.version}-${suffix}` }));
  }
  return { dir: root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

const SWAP_WINDOW_MS = 10_000;

export async function benchSwap(
  base: Config,
  opts: { data: string; workers: number; rate: number; steadySeconds: number; json?: boolean },
) {
  return withIsolatedStack(base, opts.workers, async ({ cfg }) => {
    const lifecycle = createLifecycle(cfg, createLogger('bench', 'warn'));
    const copy = copyAsVersion('bench-swap');
    try {
      const live = (await lifecycle.push(ARTIFACTS_DIR)).version;
      const next = (await lifecycle.push(copy.dir)).version;
      await lifecycle.promote(live, { force: true });
      const probe = await startLatencyProbe(cfg, `${cfg.consumerGroup}-latency`);
      const publisher = await createPublisher(cfg, 'bench');
      // Warm-up: the first seconds after a start run slower while V8 optimises.
      await replayCsv(publisher, {
        path: opts.data,
        rate: opts.rate,
        limit: opts.rate * 5,
        loop: true,
        quiet: true,
      });
      probe.measure(true);
      const started = Date.now();
      const seconds = opts.steadySeconds + SWAP_WINDOW_MS / 1000 + 2;
      say(`${opts.rate} events/s for ${seconds} s; promoting ${next} after ${opts.steadySeconds} s`);
      const replay = replayCsv(publisher, {
        path: opts.data,
        rate: opts.rate,
        limit: opts.rate * seconds,
        loop: true,
        quiet: true,
      });
      await new Promise((r) => setTimeout(r, opts.steadySeconds * 1000));
      const promotedAt = Date.now();
      await lifecycle.promote(next, { force: true });
      await replay;
      await new Promise((r) => setTimeout(r, 1500));
      probe.measure(false);
      await probe.stop();
      await publisher.close();
      const pick = (from: number, to: number) =>
        probe.samples
          .filter((s) => s.appendedAt >= from && s.appendedAt < to)
          .map((s) => s.toTopicMs)
          .sort((a, b) => a - b);
      const steady = pick(started, promotedAt);
      const during = pick(promotedAt, promotedAt + SWAP_WINDOW_MS);
      const result = {
        workers: opts.workers,
        rate: opts.rate,
        steady_events: steady.length,
        steady_p50_ms: quantile(steady, 0.5),
        steady_p99_ms: quantile(steady, 0.99),
        swap_events: during.length,
        swap_p50_ms: quantile(during, 0.5),
        swap_p99_ms: quantile(during, 0.99),
        p99_ratio_swap_steady:
          Math.round((quantile(during, 0.99) / Math.max(1, quantile(steady, 0.99))) * 100) / 100,
      };
      printResult(result, opts.json);
      return result;
    } finally {
      copy.remove();
      await lifecycle.close();
    }
  });
}
