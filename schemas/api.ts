/** Shapes of the HTTP API's answers (requests reuse TrackFeatures and FeatureInput). */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MODEL_NAMES } from './prediction.ts';

const perModel = <T extends TSchema>(t: T) =>
  Type.Object(Object.fromEntries(MODEL_NAMES.map((m) => [m, t])) as Record<(typeof MODEL_NAMES)[number], T>);

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
});
export type PredictResponse = Static<typeof PredictResponse>;

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
