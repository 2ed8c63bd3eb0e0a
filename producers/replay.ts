/**
 * Bulk replay of a Kaggle-format CSV onto the tracks topic: streamed row by row (the file is never
 * held in memory), sent in batches with a few batches in flight, paced by `rate` (events/s) or as
 * fast as the broker takes them. Bad rows are counted by reason, never sent, never fatal.
 *
 * `labelsLater` holds the labels back, as they arrive in real use: each event goes without its
 * `popularity`, and its label follows on the labels topic `delayMs` after it, naming the event.
 */
import { countRows, readKaggleCsvChunks, requireDataFile } from '../lib/kaggle-csv.ts';
import { ProgressReporter } from '../lib/progress.ts';
import type { Label, TrackFeatures } from '../schemas/index.ts';
import type { Publisher } from './publisher.ts';
import { trackEventFromCsv } from './track-event.ts';

/** A paced replay sends at least this often a second (every 50 ms), whatever its batch size. */
export const PACED_SENDS_PER_SECOND = 20;

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
  labelsLater?: {
    delayMs: number;
    /** Publishes labels (to the labels topic); resolves when the broker has them. */
    publish: (labels: Label[]) => Promise<void>;
  };
}

export interface ReplaySummary {
  sent: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  seconds: number;
  eventsPerSecond: number;
  /** With `labelsLater`: labels published after their events. */
  labelsSent?: number;
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

  const labelsDue: Promise<void>[] = [];
  const send = async (batch: TrackFeatures[]) => {
    // Stamp the batch as it leaves, so pacing waits do not count as pipeline latency.
    const now = new Date().toISOString();
    for (const e of batch) e.event_time = now;
    const held = opts.labelsLater ? holdLabelsBack(batch) : [];
    const results = await publisher.publish(batch);
    const labels: Label[] = [];
    for (const r of results) {
      if (r.ok) summary.sent++;
      else reject(`${r.errors[0]?.field}: ${r.errors[0]?.code}`);
      const popularity = held[r.index];
      if (r.ok && popularity !== undefined)
        labels.push({
          track_id: r.track_id,
          event_id: r.event_id,
          popularity,
          label_time: now,
          source: 'replay',
        });
    }
    if (opts.labelsLater && labels.length) labelsDue.push(sendLater(labels, opts.labelsLater));
    progress?.update(summary.sent + summary.rejected);
  };
  const sendLater = async (labels: Label[], later: NonNullable<ReplayOptions['labelsLater']>) => {
    await new Promise((r) => setTimeout(r, later.delayMs));
    // Stamped as they leave: a label is observed when it is sent, after its event.
    const at = new Date().toISOString();
    await later.publish(labels.map((l) => ({ ...l, label_time: at })));
    summary.labelsSent = (summary.labelsSent ?? 0) + labels.length;
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
    const full = Math.min(
      batchSize,
      opts.rate ? Math.max(1, Math.ceil(opts.rate / PACED_SENDS_PER_SECOND)) : batchSize,
    );
    file: for await (const rows of readKaggleCsvChunks(opts.path)) {
      // Stamped again as each batch leaves (`send`); this one only holds the field's place.
      const readAt = new Date().toISOString();
      for (const r of rows) {
        if (opts.signal?.aborted || (opts.limit !== undefined && total >= opts.limit)) break file;
        total++;
        if (!r.ok) {
          reject(`csv ${r.column}`);
          continue;
        }
        batch.push(trackEventFromCsv(r.track, readAt));
        if (batch.length >= full) {
          await flush(batch);
          batch = [];
        }
      }
    }
    await flush(batch);
  } while (opts.loop && !opts.signal?.aborted && (opts.limit === undefined || total < opts.limit));
  await Promise.all(inFlight);
  summary.seconds = (performance.now() - t0) / 1000;
  summary.eventsPerSecond = summary.sent / Math.max(summary.seconds, 1e-6);
  if (opts.labelsLater) {
    if (!opts.quiet && labelsDue.length)
      process.stderr.write(
        `replay: the labels follow each event ${(opts.labelsLater.delayMs / 1000).toFixed(0)} s after it on the labels topic\n`,
      );
    await Promise.all(labelsDue);
    summary.labelsSent ??= 0;
  }
  const reasons = Object.entries(summary.rejectedBy)
    .map(([k, v]) => `${v} × ${k}`)
    .join(', ');
  progress?.done(
    `sent ${summary.sent}, rejected ${summary.rejected}${reasons ? ` (${reasons})` : ''} in ${summary.seconds.toFixed(1)} s, ${Math.round(summary.eventsPerSecond)} events/s${summary.labelsSent !== undefined ? `; ${summary.labelsSent} labels sent after their events` : ''}`,
  );
  return summary;
}

/** Takes each event's popularity out of it (the event goes unlabelled); returns them by position. */
function holdLabelsBack(batch: TrackFeatures[]): (number | undefined)[] {
  return batch.map((e) => {
    const p = e.popularity;
    delete e.popularity;
    return p;
  });
}
