/**
 * `hitstream bench shadow`: what shadow scoring costs. The same workers replay the same events at
 * a fixed rate, alternating shadow off and on (`models shadow`, hot-swapped, no restart), and
 * the bench prints each phase's CPU ms per event per process and the workers' ratio on/off.
 * The shadow version is the live one's files under another id: it costs what a real candidate of
 * the same kinds costs. Each shadow phase is checked to have stored 4 shadow rows per event.
 */
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { copyAsVersion } from './swap.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { cpuFigures, say, withIsolatedStack } from './isolated-stack.ts';
import { printResult } from './report.ts';
import { scoreNamesOf } from '../models/model-set.ts';

export async function benchShadow(
  base: Config,
  opts: { data: string; workers: number; rate: number; seconds: number; rounds: number; json?: boolean },
) {
  return withIsolatedStack(base, opts.workers, async ({ cfg, cpuWindow }) => {
    const log = createLogger('bench', 'warn');
    const lifecycle = createLifecycle(cfg, log);
    const copy = copyAsVersion('bench-shadow');
    const ch = createClickhouse(cfg);
    const shadowRows = async () =>
      Number(
        (
          await (
            await ch.query({ query: 'SELECT count() AS n FROM shadow_predictions', format: 'JSONEachRow' })
          ).json<{
            n: string;
          }>()
        )[0]?.n ?? 0,
      );
    try {
      const live = (await lifecycle.push(ARTIFACTS_DIR)).version;
      const shadow = (await lifecycle.push(copy.dir)).version;
      await lifecycle.promote(live, { force: true });
      const publisher = await createPublisher(cfg, 'bench');
      const limit = Math.round(opts.rate * opts.seconds);
      const phase = async (label: 'off' | 'on') => {
        const rowsBefore = await shadowRows();
        const window = cpuWindow();
        const r = await replayCsv(publisher, {
          path: opts.data,
          rate: opts.rate,
          limit,
          loop: true,
          quiet: true,
        });
        await new Promise((res) => setTimeout(res, 1500)); // the last batches scored and stored
        const figures = cpuFigures(window(r.sent));
        const added = (await shadowRows()) - rowsBefore;
        if (label === 'on' && added < scoreNamesOf().length * r.sent)
          say(
            `warning: the shadow phase stored ${added} shadow rows for ${r.sent} events (was the swap late?)`,
          );
        say(`shadow ${label}: workers ${figures.cpu_ms_per_event.workers} CPU ms/event`);
        return { label, events: r.sent, shadow_rows: added, ...figures };
      };
      const phases: Awaited<ReturnType<typeof phase>>[] = [];
      say(
        `live ${live}, shadow candidate ${shadow}; ${opts.rounds} rounds of ${opts.seconds} s off / on at ${opts.rate} events/s`,
      );
      await replayCsv(publisher, { path: opts.data, rate: opts.rate, limit: opts.rate * 3, quiet: true }); // warm-up
      for (let i = 0; i < opts.rounds; i++) {
        phases.push(await phase('off'));
        await lifecycle.shadow(shadow);
        await new Promise((res) => setTimeout(res, 10_000)); // download, load, warm-up, swap
        phases.push(await phase('on'));
        await lifecycle.shadowOff();
        await new Promise((res) => setTimeout(res, 3_000));
      }
      await publisher.close();
      const mean = (label: string) => {
        const xs = phases.filter((p) => p.label === label).map((p) => p.cpu_ms_per_event.workers ?? 0);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      };
      const result = {
        workers: opts.workers,
        rate: opts.rate,
        workers_cpu_ms_per_event_off: Math.round(mean('off') * 1000) / 1000,
        workers_cpu_ms_per_event_on: Math.round(mean('on') * 1000) / 1000,
        ratio_on_off: Math.round((mean('on') / mean('off')) * 100) / 100,
        phases,
      };
      printResult(result, opts.json);
      return result;
    } finally {
      copy.remove();
      await ch.close();
      await lifecycle.close();
    }
  });
}
