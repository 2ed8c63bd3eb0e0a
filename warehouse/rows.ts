/** Shaping scored events into ClickHouse rows and feed messages. Pure. */
import type { BatchPrediction, PerScore } from '../models/model-set.ts';
import { FEATURE_NAMES, type ScoredEvent, type TrackFeatures } from '../schemas/index.ts';
import type { DeadLetter } from '../schemas/dead-letter.ts';
import type { Label } from '../schemas/label.ts';

/** Where a row's event came from: for the dead letter if ClickHouse refuses the row. */
export interface RowOrigin {
  topic: string;
  partition: number;
  offset: string;
  key?: string;
}

export interface Scored {
  eventId: string;
  event: TrackFeatures;
  origin: RowOrigin;
}

/** ClickHouse DateTime as seconds since the epoch (what JSONEachRow takes on 18.16 and current). */
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function trackRow(s: Scored, ingestedAt: Date) {
  const e = s.event;
  return {
    event_id: s.eventId,
    track_id: e.track_id,
    track_name: e.track_name ?? '',
    artists: e.artists ?? '',
    album_name: e.album_name ?? '',
    track_genre: e.track_genre ?? '',
    ...Object.fromEntries(FEATURE_NAMES.map((f) => [f, f === 'explicit' ? (e.explicit ? 1 : 0) : e[f]])),
    popularity: e.popularity ?? null,
    source: e.source,
    event_time: seconds(e.event_time),
    ingested_at: Math.floor(ingestedAt.getTime() / 1000),
  };
}

/** Each score's version, as `LoadedModels.versions` holds them. */
export type ScoreVersions = PerScore<string>;

/** One row per event per score the prediction holds (four, or five with an ensemble). */
export function predictionRows(
  batch: readonly Scored[],
  pred: BatchPrediction,
  versions: ScoreVersions,
  scoredAt: Date,
) {
  const rows = [];
  for (let i = 0; i < batch.length; i++) {
    const { eventId, event } = batch[i]!;
    const latency = Math.max(0, scoredAt.getTime() - Date.parse(event.event_time));
    for (const model of pred.names)
      rows.push({
        event_id: eventId,
        track_id: event.track_id,
        track_genre: event.track_genre ?? '',
        model,
        model_version: versions[model]!,
        score: pred.scores[model]![i]!,
        popularity: event.popularity ?? null,
        inference_us: pred.inferenceUs[model]!,
        latency_ms: latency,
        event_time: seconds(event.event_time),
        scored_at: Math.floor(scoredAt.getTime() / 1000),
      });
  }
  return rows;
}

/** A shadow version's rows for `shadow_predictions`: beside the live ones, keyed by its version. */
export const shadowPredictionRows = (
  batch: readonly Scored[],
  pred: BatchPrediction,
  setVersion: string,
  versions: ScoreVersions,
  scoredAt: Date,
) => predictionRows(batch, pred, versions, scoredAt).map((r) => ({ ...r, set_version: setVersion }));

const roundedScores = (pred: BatchPrediction, i: number) =>
  Object.fromEntries(pred.names.map((m) => [m, Math.round(pred.scores[m]![i]! * 100) / 100]));

export function scoredEvents(
  batch: readonly Scored[],
  pred: BatchPrediction,
  live: { version: string; versions: ScoreVersions },
  scoredAt: Date,
  shadow?: { version: string; pred: BatchPrediction },
): ScoredEvent[] {
  const nFeatures = pred.tabnetMasks.length / Math.max(1, batch.length);
  return batch.map(({ eventId, event }, i) => ({
    event_id: eventId,
    track_id: event.track_id,
    ...(event.track_name ? { track_name: event.track_name } : {}),
    ...(event.artists ? { artists: event.artists } : {}),
    ...(event.track_genre ? { track_genre: event.track_genre } : {}),
    features: Object.fromEntries(FEATURE_NAMES.map((f) => [f, event[f]])) as ScoredEvent['features'],
    ...(event.popularity !== undefined ? { popularity: event.popularity } : {}),
    scores: roundedScores(pred, i),
    model_versions: Object.fromEntries(pred.names.map((m) => [m, live.versions[m]!])),
    version: live.version,
    ...(shadow ? { shadow: { version: shadow.version, scores: roundedScores(shadow.pred, i) } } : {}),
    tabnet_mask: Array.from(
      pred.tabnetMasks.subarray(i * nFeatures, (i + 1) * nFeatures),
      (v) => Math.round(v * 1000) / 1000,
    ),
    event_time: event.event_time,
    scored_at: scoredAt.toISOString(),
    latency_ms: Math.max(0, scoredAt.getTime() - Date.parse(event.event_time)),
  }));
}

/** Rows of one table, already in ClickHouse's JSONEachRow text, one line per row. */
export interface EncodedRows {
  rows: number;
  text: string;
  /** The message each line came from, in line order. */
  origins: readonly RowOrigin[];
}

/**
 * Encodes rows as soon as a batch is scored, rather than all of a write's rows when it starts:
 * encoding a second's ~2,500 rows at once blocked the worker for 15-30 ms (a latency spike every
 * write), and row objects kept for a second outlive the young generation and cost GC work.
 */
export function encodeRows(rows: readonly object[], origins: readonly RowOrigin[]): EncodedRows {
  let text = '';
  // JSON.stringify never writes a raw newline, so each row is exactly one line.
  for (const r of rows) text += `${JSON.stringify(r)}\n`;
  return { rows: rows.length, text, origins };
}

/** The origin of each of `predictionRows(batch, pred)`'s rows (one per event per score). */
export const predictionOrigins = (batch: readonly Scored[], pred: BatchPrediction): RowOrigin[] =>
  batch.flatMap((s) => pred.names.map(() => s.origin));

/** A dead letter's own position, as the origin of its row. */
export const deadLetterOrigin = (d: DeadLetter): RowOrigin => ({
  topic: d.topic,
  partition: d.partition,
  offset: d.offset,
  ...(d.key !== undefined ? { key: d.key } : {}),
});

export function deadLetterRow(d: DeadLetter) {
  return {
    kafka_topic: d.topic,
    kafka_partition: d.partition,
    kafka_offset: d.offset,
    message_key: d.key ?? '',
    error_code: d.error_code,
    message: d.message,
    field: d.field,
    payload: d.payload,
    payload_encoding: d.payload_encoding,
    payload_bytes: d.payload_bytes,
    time: seconds(d.time),
  };
}

/** The largest first_arrival: a label's row keeps its first arrival (schemas/clickhouse/008_labels.sql). */
const FIRST_ARRIVAL_MAX = 4294967295;

/** A label's row for the `labels` table, arrived at `arrivedAt`. */
export function labelRow(l: Label, arrivedAt: Date) {
  const arrived = Math.floor(arrivedAt.getTime() / 1000);
  return {
    track_id: l.track_id,
    event_id: l.event_id ?? '',
    popularity: l.popularity,
    label_time: seconds(l.label_time),
    arrived_at: arrived,
    source: l.source ?? '',
    first_arrival: FIRST_ARRIVAL_MAX - arrived,
  };
}
