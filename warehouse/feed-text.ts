/**
 * The predictions topic's messages written straight to JSON text: the same text as
 * `JSON.stringify` of each of `scoredEvents(…)` (rows.ts, which stays the definition;
 * test/unit/feed-text.test.ts holds them equal), without an object per event, per score and per
 * feature. Building those objects and stringifying them was ~9% of a worker's CPU at full speed
 * (bench pipeline profile, 2026-12-07), and they were a good part of what its GC copied; what a
 * batch shares (score names, versions, scored_at) is written once here, not once per event.
 */
import type { BatchPrediction } from '../models/model-set.ts';
import { FEATURE_NAMES } from '../schemas/index.ts';
import type { Scored, ScoreVersions } from './rows.ts';

const str = JSON.stringify;
/** A number as JSON writes it (NaN and ±Infinity as null). */
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');
const round = (v: number, scale: number) => Math.round(v * scale) / scale;

const FEATURE_KEYS = FEATURE_NAMES.map((f, j) => `${j ? ',' : ''}${str(f)}:`);

/** A message and the key it is sent under (the track, so a track's predictions stay in order). */
export interface FeedMessage {
  key: string;
  value: string;
}

/** `{"rf":12.34,…}`: a prediction's scores for row `i`, rounded as the feed shows them. */
function scoresText(keys: readonly string[], pred: BatchPrediction, i: number): string {
  let text = '{';
  for (let k = 0; k < keys.length; k++) text += keys[k]! + num(round(pred.scores[pred.names[k]!]![i]!, 100));
  return `${text}}`;
}

function featuresText(event: Scored['event']): string {
  let text = '{';
  for (let j = 0; j < FEATURE_NAMES.length; j++) {
    const f = FEATURE_NAMES[j]!;
    text += FEATURE_KEYS[j]! + (f === 'explicit' ? String(event.explicit) : num(event[f]));
  }
  return `${text}}`;
}

function maskText(masks: Float32Array, from: number, to: number): string {
  let text = '[';
  for (let k = from; k < to; k++) text += (k > from ? ',' : '') + num(round(masks[k]!, 1000));
  return `${text}]`;
}

const scoreKeys = (pred: BatchPrediction) => pred.names.map((m, k) => `${k ? ',' : ''}${str(m)}:`);

/** One message per event of the batch, as `scoredEvents` and `JSON.stringify` would write it. */
export function feedMessages(
  batch: readonly Scored[],
  pred: BatchPrediction,
  live: { version: string; versions: ScoreVersions },
  scoredAt: Date,
  shadow?: { version: string; pred: BatchPrediction },
): FeedMessage[] {
  const nFeatures = pred.tabnetMasks.length / Math.max(1, batch.length);
  const keys = scoreKeys(pred);
  const shadowKeys = shadow && scoreKeys(shadow.pred);
  const versions = `,"model_versions":{${pred.names.map((m, k) => keys[k] + str(live.versions[m]!)).join('')}},"version":${str(live.version)}`;
  const scored = scoredAt.getTime();
  const scoredAtText = `,"scored_at":${str(scoredAt.toISOString())},"latency_ms":`;
  const out = new Array<FeedMessage>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const { eventId, event: e } = batch[i]!;
    let text = `{"event_id":${str(eventId)},"track_id":${str(e.track_id)}`;
    if (e.track_name) text += `,"track_name":${str(e.track_name)}`;
    if (e.artists) text += `,"artists":${str(e.artists)}`;
    if (e.track_genre) text += `,"track_genre":${str(e.track_genre)}`;
    text += `,"features":${featuresText(e)}`;
    if (e.popularity !== undefined) text += `,"popularity":${num(e.popularity)}`;
    text += `,"scores":${scoresText(keys, pred, i)}${versions}`;
    if (shadow && shadowKeys)
      text += `,"shadow":{"version":${str(shadow.version)},"scores":${scoresText(shadowKeys, shadow.pred, i)}}`;
    text += `,"tabnet_mask":${maskText(pred.tabnetMasks, i * nFeatures, (i + 1) * nFeatures)}`;
    text += `,"event_time":${str(e.event_time)}${scoredAtText}${num(Math.max(0, scored - Date.parse(e.event_time)))}}`;
    out[i] = { key: e.track_id, value: text };
  }
  return out;
}
