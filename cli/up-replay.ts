/** `up`'s replay: publishes a CSV and waits (up to 2 minutes) until its predictions are stored. */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { scoreNamesOf } from '../models/model-set.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';

export async function replayAndWaitScored(
  cfg: Config,
  opts: { data: string; rate?: number | undefined },
  say: (line: string) => void,
): Promise<void> {
  const ch = createClickhouse(cfg);
  const count = async () =>
    Number(
      (
        await (
          await ch.query({ query: 'SELECT count() AS n FROM predictions FINAL', format: 'JSONEachRow' })
        ).json<{ n: string }>()
      )[0]?.n ?? 0,
    );
  const before = await count();
  const publisher = await createPublisher(cfg, 'hitstream-up');
  const summary = await replayCsv(publisher, { path: opts.data, rate: opts.rate });
  await publisher.close();
  // One row per event per score: four, five when the models ship an ensemble.
  const scores = scoreNamesOf(cfg.modelsDir || undefined);
  const want = before + summary.sent * scores.length;
  const t0 = Date.now();
  let have = before;
  while (have < want && Date.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 500));
    have = await count();
  }
  say(
    `${have - before} prediction rows for ${summary.sent} events (${scores.length} scores each: ${scores.join(', ')}) in ClickHouse after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  await ch.close();
}
