/** What a live-feed client may send: a subscribe message that sets its filters. */
import { type Static, Type } from '@sinclair/typebox';
import { SCORE_NAMES } from './prediction.ts';

/** Filters left out are no filter (the API reads a null as left out). */
export const FeedSubscribe = Type.Object(
  {
    type: Type.Literal('subscribe'),
    genre: Type.Optional(Type.String({ maxLength: 64, description: 'only tracks of this genre' })),
    model: Type.Optional(
      Type.Union(
        SCORE_NAMES.map((m) => Type.Literal(m)),
        {
          description:
            'the model min_score applies to (default: the highest score of the event); `ensemble` when the live version has one',
        },
      ),
    ),
    shadow: Type.Optional(
      Type.Boolean({
        description:
          'also send the shadow version’s scores of each event (`shadow` in each prediction), when one is set',
      }),
    ),
    explanations: Type.Optional(
      Type.Boolean({
        description:
          'also send `{"type":"explanation"}` messages: every score’s SHAP values for the events the workers explain (HITSTREAM_EXPLAIN_SAMPLE), a few seconds after their prediction',
      }),
    ),
    min_score: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: 'only predictions scored at least this' }),
    ),
  },
  { additionalProperties: false, $id: 'FeedSubscribe' },
);
export type FeedSubscribe = Static<typeof FeedSubscribe>;
