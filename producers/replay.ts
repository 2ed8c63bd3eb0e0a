/**
 * Bulk replay of a Kaggle-format CSV onto the tracks topic: streamed row by row (the file is never
 * held in memory), sent in batches with a few batches in flight, paced by `rate` (events/s) or as
 * fast as the broker takes them. Bad rows are counted by reason, never sent, never fatal.
 */
import { countRows, readKaggleCsv, requireDataFile } from '../lib/kaggle-csv.ts';
import { ProgressReporter } from '../lib/progress.ts';
import type { TrackFeatures } from '../schemas/index.ts';
import type { Publisher } from './publisher.ts';
import { trackEventFromCsv } from './track-event.ts';

export interface ReplayOptions {
  path: string;
  /** Events per second; undefined = as fast as possible. */
  rate?: number;
  limit?: number;
  loop?: boolean;
  batchSize?: number;
  maxInFlight?: number;
  /** Stop early (e.g. Ctrl-C); the batches in hand are still sent. */
  signal?: AbortSignal;
  quiet?: boolean;
}

export interface ReplaySummary {
  sent: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  seconds: number;
  eventsPerSecond: number;
}

export async function replayCsv(publisher: Publisher, opts: ReplayOptions): Promise<ReplaySummary> {
  const batchSize = opts.batchSize ?? 1000;
  const maxInFlight = opts.maxInFlight ?? 4;
  await requireDataFile(opts.path);
  const fileRows = Math.min(opts.limit ?? Infinity, await countRows(opts.path));
  const progress = opts.quiet ? undefined : new ProgressReporter('replay', opts.loop ? undefined : fileRows);
  const summary: ReplaySummary = { sent: 0, rejected: 0, rejectedBy: {}, seconds: 0, eventsPerSecond: 0 };
  const reject = (reason: string) => {
    summary.rejected++;
    summary.rejectedBy[reason] = (summary.rejectedBy[reason] ?? 0) + 1;
  };
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let queued = 0;

  const send = async (batch: TrackFeatures[]) => {
    // Stamp the batch as it leaves, so pacing waits do not count as pipeline latency.
    const now = new Date().toISOString();
    for (const e of batch) e.event_time = now;
    const results = await publisher.publish(batch);
    for (const r of results) {
      if (r.ok) summary.sent++;
      else reject(`${r.errors[0]?.field}: ${r.errors[0]?.code}`);
    }
    progress?.update(summary.sent + summary.rejected);
  };
  const flush = async (batch: TrackFeatures[]) => {
    if (!batch.length) return;
    // Pace by the clock: batch k may leave at t0 + k·batch/rate.
    if (opts.rate) {
      const due = t0 + (queued / opts.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    queued += batch.length;
    const p = send(batch).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
  };

  let total = 0;
  do {
    let batch: TrackFeatures[] = [];
    for await (const r of readKaggleCsv(opts.path)) {
      if (opts.signal?.aborted || (opts.limit !== undefined && total >= opts.limit)) break;
      total++;
      if (!r.ok) {
        reject(`csv ${r.column}`);
        continue;
      }
      batch.push(trackEventFromCsv(r.track, new Date().toISOString()));
      if (
        batch.length >= Math.min(batchSize, opts.rate ? Math.max(1, Math.ceil(opts.rate / 20)) : batchSize)
      ) {
        await flush(batch);
        batch = [];
      }
    }
    await flush(batch);
  } while (opts.loop && !opts.signal?.aborted && (opts.limit === undefined || total < opts.limit));
  await Promise.all(inFlight);
  summary.seconds = (performance.now() - t0) / 1000;
  summary.eventsPerSecond = summary.sent / Math.max(summary.seconds, 1e-6);
  const reasons = Object.entries(summary.rejectedBy)
    .map(([k, v]) => `${v} × ${k}`)
    .join(', ');
  progress?.done(
    `sent ${summary.sent}, rejected ${summary.rejected}${reasons ? ` (${reasons})` : ''} in ${summary.seconds.toFixed(1)} s, ${Math.round(summary.eventsPerSecond)} events/s`,
  );
  return summary;
}
