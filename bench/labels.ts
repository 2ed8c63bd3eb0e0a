/**
 * `hitstream bench labels`: labels arriving in bulk beside live scoring. The workers score a
 * replay at a fixed rate while the bench alternates quiet phases with phases of labels at a
 * steady rate on the labels topic (stored by a label sink process), then sends a burst as fast as
 * the broker takes it; it prints the labels' ingestion rates (sent → stored in ClickHouse), the scoring p99 (event → predictions topic) in each phase and their
 * ratio, CPU ms per event and per label, and how long one label takes from its publication to
 * the error figures (`versionErrorSql`, what /drift, the exporter and the panels read).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { readVersionDir } from '../registry/store.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { createPublisher, type Publisher } from '../producers/publisher.ts';
import { trackEventFromCsv } from '../producers/track-event.ts';
import { replayCsv } from '../producers/replay.ts';
import { versionErrorSql } from '../warehouse/drift-sql.ts';
import { cpuFigures, say, withIsolatedStack } from './isolated-stack.ts';
import { type LatencySample, startLatencyProbe } from './latency-probe.ts';
import { printResult, quantile } from './report.ts';

const FLOOD = fileURLToPath(new URL('./label-flood.ts', import.meta.url));

interface LabelsBenchOptions {
  data: string;
  workers: number;
  rate: number;
  seconds: number;
  labelRate: number;
  burst: number;
  rounds: number;
  json?: boolean;
}

type Count = (query: string) => Promise<number>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `query` counts at least `n`. */
async function untilCount(count: Count, query: string, n: number) {
  while ((await count(query)) < n) await sleep(100);
}

/**
 * A child process (bench/label-flood.ts) ready to send `n` labels with ids from `first`,
 * `perSecond` a second (or as fast as the broker takes them); `go()` starts it and resolves when
 * all are stored.
 */
async function labelProducer(
  env: NodeJS.ProcessEnv,
  count: Count,
  n: number,
  perSecond: number,
  first: number,
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', FLOOD, String(n), String(perSecond), String(first)],
    {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  while (!out.includes('ready')) {
    if (child.exitCode !== null) throw new Error(`the label producer exited with ${child.exitCode}`);
    await sleep(50);
  }
  return {
    async go() {
      const before = await count('SELECT count() AS n FROM labels');
      const t0 = performance.now();
      child.stdin.end('go\n');
      const [code] = await exited;
      if (code !== 0) throw new Error(`the label producer exited with ${code}`);
      const { sentSeconds } = JSON.parse(out.slice(out.indexOf('{'))) as { sentSeconds: number };
      await untilCount(count, 'SELECT count() AS n FROM labels', before + n);
      return { sentSeconds, storedSeconds: (performance.now() - t0) / 1000 };
    },
  };
}

/** One label for an event scored without one: ms from its publication to the error figures. */
async function labelToErrorMs(cfg: Config, publisher: Publisher, count: Count, query: Count, data: string) {
  const { tracks } = await loadKaggleCsv(data, { limit: 1 });
  const event = { ...trackEventFromCsv(tracks[0]!, new Date().toISOString()), track_id: 'bench-probe' };
  delete event.popularity;
  const [published] = await publisher.publish([event]);
  const eventId = published?.ok ? published.event_id : '';
  await untilCount(count, `SELECT count() AS n FROM predictions WHERE event_id = '${eventId}'`, 1);
  const version = (await readVersionDir(ARTIFACTS_DIR)).version;
  const fromStream = () => query(versionErrorSql(3600, version));
  const before = await fromStream();
  const t0 = performance.now();
  const label = {
    track_id: 'bench-probe',
    event_id: eventId,
    popularity: 50,
    label_time: new Date().toISOString(),
  };
  await publisher.sendTo(cfg.topicLabels, [{ key: label.track_id, value: JSON.stringify(label) }]);
  while ((await fromStream()) === before) await sleep(50);
  return Math.round(performance.now() - t0);
}

export async function benchLabels(base: Config, opts: LabelsBenchOptions) {
  return withIsolatedStack(base, opts.workers, async (stack) => {
    const { cfg } = stack;
    stack.spawn('label-sink');
    const ch = createClickhouse(cfg);
    const rows = async (query: string) =>
      (await ch.query({ query, format: 'JSONEachRow' })).json<Record<string, string>>();
    const count: Count = async (query) => Number((await rows(query))[0]?.n ?? 0);
    const rfFromStream: Count = async (query) =>
      Number((await rows(query)).find((x) => x.model === 'rf')?.from_stream ?? 0);
    const publisher = await createPublisher(cfg, 'bench');
    const probe = await startLatencyProbe(cfg, `${cfg.consumerGroup}-probe`);
    try {
      await replayCsv(publisher, { path: opts.data, rate: opts.rate, limit: opts.rate * 3, quiet: true }); // warm-up
      const perPhase = Math.round(opts.labelRate * opts.seconds);
      let sent = 0;
      const phase = async (label: 'quiet' | 'flood') => {
        const producer =
          label === 'flood'
            ? await labelProducer(stack.env, count, perPhase, opts.labelRate, sent)
            : undefined;
        sent += producer ? perPhase : 0;
        probe.samples.length = 0;
        probe.measure(true);
        const window = stack.cpuWindow();
        const replay = replayCsv(publisher, {
          path: opts.data,
          rate: opts.rate,
          limit: Math.round(opts.rate * opts.seconds),
          loop: true,
          quiet: true,
        });
        const labels = producer ? await producer.go() : undefined;
        const r = await replay;
        await sleep(1500);
        probe.measure(false);
        return phaseFigures(label, probe.samples, cpuFigures(window(r.sent)), r.sent, perPhase, labels);
      };
      const phases: ReturnType<typeof phaseFigures>[] = [];
      say(
        `${opts.rounds} rounds of ${opts.seconds} s quiet / with ${opts.labelRate} labels/s, scoring ${opts.rate} events/s`,
      );
      for (let i = 0; i < opts.rounds; i++) phases.push(await phase('quiet'), await phase('flood'));
      // The most the labels path takes: a burst sent as fast as the broker acknowledges.
      const burst = await (await labelProducer(stack.env, count, opts.burst, 0, sent)).go();
      say(`burst: ${opts.burst} labels stored in ${burst.storedSeconds.toFixed(1)} s`);
      const result = {
        workers: opts.workers,
        rate: opts.rate,
        label_rate: opts.labelRate,
        ...summary(phases),
        burst_labels: opts.burst,
        burst_labels_per_second_stored: Math.round(opts.burst / burst.storedSeconds),
        label_to_error_ms: await labelToErrorMs(cfg, publisher, count, rfFromStream, opts.data),
        phases,
      };
      printResult(result, opts.json);
      return result;
    } finally {
      await probe.stop();
      await publisher.close();
      await ch.close();
    }
  });
}

/** One phase's latency, CPU and (flooded) label figures, said as they come. */
function phaseFigures(
  label: 'quiet' | 'flood',
  samples: readonly LatencySample[],
  figures: ReturnType<typeof cpuFigures>,
  events: number,
  perPhase: number,
  labels?: { sentSeconds: number; storedSeconds: number },
) {
  const lat = samples.map((x) => x.toTopicMs).sort((a, b) => a - b);
  const out = {
    label,
    events,
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    ...(labels
      ? {
          labels: perPhase,
          labels_per_second_sent: Math.round(perPhase / labels.sentSeconds),
          // Stored as fast as sent when the last label lands right after it is sent.
          seconds_from_last_sent_to_all_stored:
            Math.round((labels.storedSeconds - labels.sentSeconds) * 10) / 10,
          label_sink_cpu_ms_per_label:
            Math.round(((figures.cpu_ms_per_event?.['label-sink'] ?? 0) * events * 1000) / perPhase) / 1000,
        }
      : {}),
    ...figures,
  };
  say(
    `${label}: p99 ${out.p99_ms} ms${labels ? `, ${out.labels_per_second_sent} labels/s sent, all stored ${out.seconds_from_last_sent_to_all_stored} s after the last` : ''}`,
  );
  return out;
}

/** The phases' means: the p99 quiet and flooded and their ratio, the label rates. */
function summary(phases: ReturnType<typeof phaseFigures>[]) {
  const mean = (label: string, f: (p: (typeof phases)[number]) => number) => {
    const xs = phases.filter((p) => p.label === label).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const quiet = mean('quiet', (p) => p.p99_ms);
  const flood = mean('flood', (p) => p.p99_ms);
  return {
    labels_per_second_sent: Math.round(mean('flood', (p) => p.labels_per_second_sent ?? 0)),
    seconds_from_last_sent_to_all_stored: mean('flood', (p) => p.seconds_from_last_sent_to_all_stored ?? 0),
    p99_ms_quiet: quiet,
    p99_ms_flood: flood,
    p99_ratio_flood_quiet: Math.round((flood / quiet) * 100) / 100,
  };
}
