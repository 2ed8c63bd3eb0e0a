/**
 * The worker's two big tables written straight to JSONEachRow text: the same lines as
 * `encodeRows(trackRow …)` and `encodeRows(predictionRows …)` (rows.ts, which stays the
 * definition; test/unit/row-text.test.ts holds them equal), without a row object per line or
 * per score. Building and stringifying those objects was ~8% of a worker's CPU (bench pipeline
 * profile, 2026-12-04); an event's shared fields are escaped once here, not once per score.
 */
import type { BatchPrediction } from '../models/model-set.ts';
import { FEATURE_NAMES } from '../schemas/index.ts';
import { type EncodedRows, predictionOrigins, type Scored, type ScoreVersions } from './rows.ts';

const str = JSON.stringify;
/** A number as JSON writes it (NaN and ±Infinity as null, which validation never lets through). */
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

const FEATURE_KEYS = FEATURE_NAMES.map((f) => `,${str(f)}:`);

/** `track_events` rows of the valid events of a batch. */
export function trackRowsText(batch: readonly Scored[], ingestedAt: Date): EncodedRows {
  const ingested = Math.floor(ingestedAt.getTime() / 1000);
  let text = '';
  for (const { eventId, event: e } of batch) {
    let line = `{"event_id":${str(eventId)},"track_id":${str(e.track_id)},"track_name":${str(e.track_name ?? '')},"artists":${str(e.artists ?? '')},"album_name":${str(e.album_name ?? '')},"track_genre":${str(e.track_genre ?? '')}`;
    for (let j = 0; j < FEATURE_NAMES.length; j++) {
      const f = FEATURE_NAMES[j]!;
      line += FEATURE_KEYS[j]! + (f === 'explicit' ? (e.explicit ? '1' : '0') : num(e[f]));
    }
    text += `${line},"popularity":${e.popularity ?? 'null'},"source":${str(e.source)},"event_time":${num(seconds(e.event_time))},"ingested_at":${ingested}}\n`;
  }
  return { rows: batch.length, text, origins: batch.map((s) => s.origin) };
}

/** One row per event per score (`predictions`; with `setVersion`, `shadow_predictions`). */
export function predictionRowsText(
  batch: readonly Scored[],
  pred: BatchPrediction,
  versions: ScoreVersions,
  scoredAt: Date,
  setVersion?: string,
): EncodedRows {
  const scored = scoredAt.getTime();
  const tail = `,"scored_at":${Math.floor(scored / 1000)}${setVersion === undefined ? '' : `,"set_version":${str(setVersion)}`}}\n`;
  const perModel = pred.names.map((m) => ({
    scores: pred.scores[m]!,
    head: `,"model":${str(m)},"model_version":${str(versions[m]!)},"score":`,
    inference: `,"inference_us":${num(pred.inferenceUs[m]!)}`,
  }));
  let text = '';
  for (let i = 0; i < batch.length; i++) {
    const { eventId, event } = batch[i]!;
    const eventTime = Date.parse(event.event_time);
    const head = `{"event_id":${str(eventId)},"track_id":${str(event.track_id)},"track_genre":${str(event.track_genre ?? '')}`;
    const rest = `,"popularity":${event.popularity ?? 'null'}`;
    const after = `,"latency_ms":${num(Math.max(0, scored - eventTime))},"event_time":${num(Math.floor(eventTime / 1000))}${tail}`;
    for (const m of perModel) text += `${head}${m.head}${num(m.scores[i]!)}${rest}${m.inference}${after}`;
  }
  return { rows: batch.length * pred.names.length, text, origins: predictionOrigins(batch, pred) };
}
