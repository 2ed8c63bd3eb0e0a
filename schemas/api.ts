/** Shapes of the HTTP API's answers (requests reuse TrackFeatures and FeatureInput). */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MODEL_NAMES } from './prediction.ts';

/** The four models' values, and the ensemble's when the model set ships one. */
const perModel = <T extends TSchema>(t: T) =>
  Type.Object({
    ...(Object.fromEntries(MODEL_NAMES.map((m) => [m, t])) as Record<(typeof MODEL_NAMES)[number], T>),
    ensemble: Type.Optional(t),
  });

export const ApiError = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() }), {
        description: 'Every field at fault in a request body, with the codes dead letters use',
      }),
    ),
  },
  {
    $id: 'ApiError',
    description: 'Every error: a stable code, a message for people, the field at fault when there is one',
  },
);
export type ApiError = Static<typeof ApiError>;

export const PredictResponse = Type.Object({
  scores: perModel(Type.Number({ description: 'Predicted popularity 0..100' })),
  inference_us: perModel(Type.Number({ description: 'Model time for this request, microseconds' })),
  tabnet_mask: Type.Record(Type.String(), Type.Number(), {
    description: 'TabNet aggregate feature mask (sums to 1)',
  }),
  model_versions: perModel(Type.String()),
  version: Type.String({ description: 'The model set (registry version) that scored it' }),
});
export type PredictResponse = Static<typeof PredictResponse>;

export const FEATURE_KINDS = ['audio', 'genre', 'artist'] as const;

export const ScoreExplanation = Type.Object({
  score: Type.Number({ description: 'The score as served (0..100)' }),
  base: Type.Number({
    description:
      'The expected output: trees: their cover-weighted mean leaf; MLP and TabNet: their mean on the background sample; ensemble: its members’ weighted',
  }),
  output: Type.Number({ description: 'base + Σ contributions: the model’s output before the 0..100 clip' }),
  clipped: Type.Boolean({
    description:
      'The served score is not `output`: it was clipped to 0..100 (for the ensemble: or one of its members was, before weighting)',
  }),
  method: Type.Union(
    [Type.Literal('tree-shap'), Type.Literal('permutation-shap'), Type.Literal('weighted-sum')],
    {
      description:
        '`tree-shap`: exact path-dependent Tree SHAP; `permutation-shap`: sampled against 32 training rows; `weighted-sum`: the members’ values weighted as the ensemble weighs their scores',
    },
  ),
  contributions: Type.Record(Type.String(), Type.Number(), { description: 'SHAP value per model feature' }),
});
export type ScoreExplanation = Static<typeof ScoreExplanation>;

export const ExplainResponse = Type.Object({
  explanations: perModel(ScoreExplanation),
  inputs: Type.Record(Type.String(), Type.Number(), {
    description: 'Each model feature’s value as the models saw it (genre and artist columns looked up)',
  }),
  feature_kinds: Type.Record(Type.String(), Type.Union(FEATURE_KINDS.map((k) => Type.Literal(k))), {
    description:
      '`audio`: from the event; `genre` and `artist`: context the training rows give the track’s genre and first artist',
  }),
  model_versions: perModel(Type.String()),
  version: Type.String({ description: 'The model set (registry version) explained' }),
  explain_ms: Type.Number({ description: 'Time to explain every score, milliseconds' }),
});
export type ExplainResponse = Static<typeof ExplainResponse>;

export const TrackExplanationResponse = Type.Composite([
  ExplainResponse,
  Type.Object({
    track_id: Type.String(),
    event_id: Type.String({ description: 'The track’s latest stored event: the one explained' }),
    event_time: Type.String({ description: 'ClickHouse DateTime, UTC' }),
    scored_by: Type.Union([Type.String(), Type.Null()], {
      description:
        'The Random Forest version that scored that event (null: its predictions are not stored yet)',
    }),
    same_models: Type.Boolean({
      description:
        'The version explained is the one that scored the event; false: that one is no longer served, live explains it',
    }),
  }),
]);

export const PublishResponse = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(
    Type.Object({
      index: Type.Integer(),
      accepted: Type.Boolean(),
      track_id: Type.Optional(Type.String()),
      errors: Type.Optional(
        Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() })),
      ),
    }),
  ),
});
export type PublishResponse = Static<typeof PublishResponse>;

export const HealthResponse = Type.Object({
  ready: Type.Boolean(),
  kafka: Type.Boolean(),
  clickhouse: Type.Boolean(),
  models: Type.Object(
    {
      live: Type.String(),
      shadow: Type.Union([Type.String(), Type.Null()]),
      wanted: Type.Union([
        Type.Object({ live: Type.String(), shadow: Type.Union([Type.String(), Type.Null()]) }),
        Type.Null(),
      ]),
      error: Type.Union([Type.String(), Type.Null()]),
      loadFailures: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
        description: 'failed loads per version since the process started',
      }),
      swaps: Type.Integer(),
      lastSwapSeconds: Type.Union([Type.Number(), Type.Null()]),
    },
    {
      description:
        'The versions served; `wanted` and `error` when the roles ask for one that is not loaded (yet)',
    },
  ),
  feed_clients: Type.Integer({ minimum: 0 }),
  monitoring: Type.Object(
    {
      prometheus: Type.Boolean(),
      alertmanager: Type.Boolean(),
      degraded: Type.Boolean(),
    },
    {
      description:
        'Whether Prometheus and Alertmanager answer (PROMETHEUS_URL, ALERTMANAGER_URL); when they do not, alerts are not sent, and scoring goes on',
    },
  ),
});

/** What each error status means on every route that can answer it (the OpenAPI contract). */
const ERROR_MEANINGS = {
  400: 'The request is invalid: `code` says how, `field` (and `errors`) where',
  401: 'Header `x-api-key` is missing or wrong',
  404: 'What the request names does not exist here (`unknown_version`: not a version this process serves)',
  405: 'The path exists but not with this method (`Allow` lists the methods)',
  409: 'Refused in the current state (`promote_refused`: the promotion test does not show the version better than live; `role_refused`; `explain_unavailable`: the version was trained before explanations): the message says why',
  413: 'The body is over 1 MiB (`body_too_large`)',
  415: 'The body is not `application/json` (`unsupported_media_type`)',
  429: 'Over the rate limit (`rate_limited`); `Retry-After` says when to try again',
  503: 'Kafka or ClickHouse is unavailable, or the database is not migrated (`storage_unavailable`, `schema_missing`, `kafka_unavailable`)',
} as const;
export type ErrorStatus = keyof typeof ERROR_MEANINGS;

/** `{ 400: ApiError, … }` for a route's schema.response, each with its meaning. */
export const errorResponses = <S extends ErrorStatus>(...statuses: S[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, Type.Object(ApiError.properties, { description: ERROR_MEANINGS[s] })]),
  ) as unknown as Record<S, TSchema>;

export const TrackPredictionsResponse = Type.Object({
  track_id: Type.String(),
  predictions: Type.Array(
    Type.Object({
      event_id: Type.String(),
      model: Type.String(),
      model_version: Type.String(),
      score: Type.Number(),
      popularity: Type.Union([Type.Integer(), Type.Null()], {
        description: 'The label, when the event had one',
      }),
      latency_ms: Type.Number(),
      event_time: Type.String({ description: 'ClickHouse DateTime, UTC: `YYYY-MM-DD hh:mm:ss`' }),
      scored_at: Type.String({ description: 'ClickHouse DateTime, UTC' }),
    }),
  ),
});
