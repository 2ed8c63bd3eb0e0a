/**
 * Prediction: one model's score for one event (one row in ClickHouse), and ScoredEvent: the
 * message on the predictions topic, one per event with all four models' scores and the features
 * (what the live feed shows).
 */
import { type Static, Type } from '@sinclair/typebox';
import { AudioFeatures } from './track-features.ts';

export const MODEL_NAMES = ['rf', 'xgb', 'mlp', 'tabnet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
/**
 * What a prediction can be the score of: the four trained models, and the ensemble (a weighted sum
 * of them, models/ensemble.ts) when the model set ships one.
 */
export const SCORE_NAMES = [...MODEL_NAMES, 'ensemble'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

export const Prediction = Type.Object(
  {
    event_id: Type.String({
      minLength: 1,
      description: 'Deterministic id of the source event (topic-partition-offset)',
    }),
    track_id: Type.String({ minLength: 1 }),
    model: Type.Union(SCORE_NAMES.map((m) => Type.Literal(m))),
    model_version: Type.String({ minLength: 1 }),
    score: Type.Number({ minimum: 0, maximum: 100, description: 'Predicted popularity, clipped to 0..100' }),
    inference_us: Type.Number({ minimum: 0, description: 'Model time per row in its batch, microseconds' }),
    latency_ms: Type.Number({
      minimum: 0,
      description: 'Event time (or publish time) to scored, milliseconds',
    }),
    event_time: Type.String({ format: 'date-time' }),
    scored_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, $id: 'Prediction' },
);
export type Prediction = Static<typeof Prediction>;

export const ScoredEvent = Type.Object(
  {
    event_id: Type.String({ minLength: 1 }),
    track_id: Type.String({ minLength: 1 }),
    track_name: Type.Optional(Type.String()),
    artists: Type.Optional(Type.String()),
    track_genre: Type.Optional(Type.String()),
    features: Type.Object(AudioFeatures, { additionalProperties: false }),
    popularity: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    scores: Type.Record(Type.String(), Type.Number(), { description: 'model name -> score' }),
    model_versions: Type.Record(Type.String(), Type.String()),
    version: Type.Optional(Type.String({ description: 'the live version that gave `scores`' })),
    shadow: Type.Optional(
      Type.Object(
        {
          version: Type.String(),
          scores: Type.Record(Type.String(), Type.Number(), { description: 'model name -> score' }),
        },
        {
          additionalProperties: false,
          description:
            'the shadow version’s scores of the same event, when one is set; sent only to feed clients that subscribe with "shadow": true',
        },
      ),
    ),
    tabnet_mask: Type.Optional(
      Type.Array(Type.Number(), { description: 'TabNet aggregate feature mask, in feature order' }),
    ),
    event_time: Type.String({ format: 'date-time' }),
    scored_at: Type.String({ format: 'date-time' }),
    latency_ms: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false, $id: 'ScoredEvent' },
);
export type ScoredEvent = Static<typeof ScoredEvent>;
