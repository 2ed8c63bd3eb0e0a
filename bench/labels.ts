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
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { versionErrorSql } from '../warehouse/drift-sql.ts';
import { cpuFigures, say, withIsolatedStack } from './isolated-stack.ts';
import { startLatencyProbe } from './latency-probe.ts';
import { printResult, quantile } from './report.ts';

const FLOOD = fileURLToPath(new URL('./label-flood.ts', import.meta.url));

export async function benchLabels(
  base: Config,
  opts: {
    data: string;
    workers: number;
    rate: number;
    seconds: number;
    labelRate: number;
    burst: number;
    rounds: number;
    json?: boolean;
  },
) {
  return withIsolatedStack(base, opts.workers, async (stack) => {
    const { cfg, cpuWindow } = stack;
    stack.spawn('label-sink');
    const ch = createClickhouse(cfg);
    const count = async (query: string) =>
      Number((await (await ch.query({ query, format: 'JSONEachRow' })).json<{ n: string }>())[0]?.n ?? 0);
    const publisher = await createPublisher(cfg, 'bench');
    const probe = await startLatencyProbe(cfg, `${cfg.consumerGroup}-probe`);
    const version = (await readVersionDir(ARTIFACTS_DIR)).version;
    try {
      await replayCsv(publisher, { path: opts.data, rate: opts.rate, limit: opts.rate * 3, quiet: true }); // warm-up
      let sent = 0;
      /**
       * A child process (bench/label-flood.ts) ready to send `n` labels, `perSecond` a second (or
       * as fast as the broker takes them); `go()` starts it and resolves when all are stored.
       */
      const flood = async (n: number, perSecond = 0) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', FLOOD, String(n), String(perSecond), String(sent)],
          {
            env: stack.env,
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        );
        sent += n;
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const exited = once(child, 'exit') as Promise<[number | null]>;
        while (!out.includes('ready')) {
          if (child.exitCode !== null) throw new Error(`the label producer exited with ${child.exitCode}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        return {
          async go() {
            const before = await count('SELECT count() AS n FROM labels');
            const t0 = performance.now();
            child.stdin.end('go\n');
            const [code] = await exited;
            if (code !== 0) throw new Error(`the label producer exited with ${code}`);
            const { sentSeconds } = JSON.parse(out.slice(out.indexOf('{'))) as { sentSeconds: number };
            while ((await count('SELECT count() AS n FROM labels')) < before + n)
              await new Promise((r) => setTimeout(r, 100));
            return { sentSeconds, storedSeconds: (performance.now() - t0) / 1000 };
          },
        };
      };
      const phase = async (label: 'quiet' | 'flood') => {
        probe.samples.length = 0;
        probe.measure(true);
        const producer = label === 'flood' ? await flood(perPhase, opts.labelRate) : undefined;
        const window = cpuWindow();
        const replay = replayCsv(publisher, {
          path: opts.data,
          rate: opts.rate,
          limit: Math.round(opts.rate * opts.seconds),
          loop: true,
          quiet: true,
        });
        const labels = producer ? await producer.go() : undefined;
        const r = await replay;
        await new Promise((res) => setTimeout(res, 1500));
        probe.measure(false);
        const lat = probe.samples.map((x) => x.toTopicMs).sort((a, b) => a - b);
        const figures = cpuFigures(window(r.sent));
        const out = {
          label,
          events: r.sent,
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
                  Math.round(((figures.cpu_ms_per_event['label-sink'] ?? 0) * r.sent * 1000) / perPhase) /
                  1000,
              }
            : {}),
          ...figures,
        };
        say(
          `${label}: p99 ${out.p99_ms} ms${labels ? `, ${out.labels_per_second_sent} labels/s sent, all stored ${out.seconds_from_last_sent_to_all_stored} s after the last` : ''}`,
        );
        return out;
      };
      const perPhase = Math.round(opts.labelRate * opts.seconds);
      const phases: Awaited<ReturnType<typeof phase>>[] = [];
      say(
        `${opts.rounds} rounds of ${opts.seconds} s quiet / with ${opts.labelRate} labels/s, scoring ${opts.rate} events/s`,
      );
      for (let i = 0; i < opts.rounds; i++) phases.push(await phase('quiet'), await phase('flood'));
      // The most the labels path takes: a burst sent as fast as the broker acknowledges.
      const burst = await (await flood(opts.burst)).go();
      say(`burst: ${opts.burst} labels stored in ${burst.storedSeconds.toFixed(1)} s`);
      // One label for an event scored without one: from its publication to the error figures.
      const e = await publisher.publish([
        { ...(await firstEvent(opts.data)), popularity: undefined, track_id: 'bench-probe' },
      ]);
      const eventId = e[0]!.ok ? e[0]!.event_id : '';
      while ((await count(`SELECT count() AS n FROM predictions WHERE event_id = '${eventId}'`)) === 0)
        await new Promise((r) => setTimeout(r, 100));
      const labelled = async () =>
        Number(
          (
            await (
              await ch.query({ query: versionErrorSql(3600, version), format: 'JSONEachRow' })
            ).json<{ model: string; from_stream: string }>()
          ).find((x) => x.model === 'rf')?.from_stream ?? 0,
        );
      const before = await labelled();
      const t0 = performance.now();
      await publisher.sendTo(cfg.topicLabels, [
        {
          key: 'bench-probe',
          value: JSON.stringify({
            track_id: 'bench-probe',
            event_id: eventId,
            popularity: 50,
            label_time: new Date().toISOString(),
          }),
        },
      ]);
      while ((await labelled()) === before) await new Promise((r) => setTimeout(r, 50));
      const labelToErrorMs = Math.round(performance.now() - t0);
      const mean = (label: string, f: (p: (typeof phases)[number]) => number) => {
        const xs = phases.filter((p) => p.label === label).map(f);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      };
      const result = {
        workers: opts.workers,
        rate: opts.rate,
        label_rate: opts.labelRate,
        labels_per_second_sent: Math.round(mean('flood', (p) => p.labels_per_second_sent ?? 0)),
        seconds_from_last_sent_to_all_stored: mean(
          'flood',
          (p) => p.seconds_from_last_sent_to_all_stored ?? 0,
        ),
        burst_labels: opts.burst,
        burst_labels_per_second_stored: Math.round(opts.burst / burst.storedSeconds),
        p99_ms_quiet: mean('quiet', (p) => p.p99_ms),
        p99_ms_flood: mean('flood', (p) => p.p99_ms),
        p99_ratio_flood_quiet:
          Math.round((mean('flood', (p) => p.p99_ms) / mean('quiet', (p) => p.p99_ms)) * 100) / 100,
        label_to_error_ms: labelToErrorMs,
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

async function firstEvent(path: string) {
  const { loadKaggleCsv } = await import('../lib/kaggle-csv.ts');
  const { trackEventFromCsv } = await import('../producers/track-event.ts');
  const { tracks } = await loadKaggleCsv(path, { limit: 1 });
  return trackEventFromCsv(tracks[0]!, new Date().toISOString());
}
