import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { classifyKafkaError } from '../../lib/kafka-errors.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { sql } from '../../lib/sql.ts';
import type { Publisher } from '../../producers/publisher.ts';
import type { Config } from '../../lib/config.ts';
import { ApiError, errorResponses, PublishResponse, TrackPredictionsResponse } from '../../schemas/api.ts';
import { type FieldError, TrackInput } from '../../schemas/index.ts';
import { rateLimited } from '../protection.ts';
import type { StorageReader } from '../storage.ts';
import { type Access, unauthorized } from '../access.ts';

export const MAX_RECORDS = 1000;

/** A body of records: one object, or an array of 1 to MAX_RECORDS objects (`what` names them). */
export function recordsOnly(body: unknown, what = 'a track event object') {
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  const ok = Array.isArray(body)
    ? body.length >= 1 && body.length <= MAX_RECORDS && body.every(isObject)
    : isObject(body);
  if (ok) return { value: body };
  const error = new HitstreamError(
    'invalid_request',
    `the body must be ${what} or an array of 1 to ${MAX_RECORDS} of them`,
  );
  return { error };
}

/**
 * What POST /tracks and POST /labels answer: each record accepted or refused with its errors; 202
 * when all were accepted, 207 when some, 400 when none.
 */
export function publishAnswer(
  results: readonly ({ index: number } & (
    { ok: true; track_id: string } | { ok: false; errors: FieldError[] }
  ))[],
) {
  const accepted = results.filter((r) => r.ok).length;
  return {
    status: accepted === results.length ? 202 : accepted ? 207 : 400,
    body: {
      accepted,
      rejected: results.length - accepted,
      results: results.map((r) =>
        r.ok
          ? { index: r.index, accepted: true, track_id: r.track_id }
          : { index: r.index, accepted: false, errors: r.errors },
      ),
    },
  };
}

/** SQL of GET /tracks/:id/predictions (exported so the portability test runs it on both engines). */
export const trackPredictionsSql = (trackId: string, limit: number) => sql`
SELECT event_id, model, model_version, score, popularity, latency_ms, event_time, scored_at
FROM predictions FINAL
WHERE track_id = ${trackId}
ORDER BY scored_at DESC, event_id, model
LIMIT ${limit}`;

export const trackRoutes =
  (deps: { publisher: Publisher; storage: StorageReader; access: Access; cfg: Config }): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: unknown }>(
      '/tracks',
      {
        schema: {
          summary: 'Publish one track event or a batch; each record is answered on its own',
          description: `A TrackFeatures object or an array of up to ${MAX_RECORDS}. \`event_time\` and \`source\` default to now and "http".`,
          body: Type.Union([TrackInput, Type.Array(TrackInput, { minItems: 1, maxItems: MAX_RECORDS })]),
          response: {
            202: PublishResponse,
            207: PublishResponse,
            400: Type.Union([PublishResponse, ApiError], {
              description: 'No record accepted, or the body is not records',
            }),
            ...errorResponses(...(deps.access.keyed ? ([401] as const) : []), 413, 415, 429, 503),
          },
          ...(deps.access.keyed ? { security: [{ apiKey: [] }] } : {}),
        },
        // Records are checked one by one (each answered in `results`, the valid ones published),
        // so the body is only checked to be records here, not against the documented schema.
        validatorCompiler: () => (body: unknown) => recordsOnly(body),
        ...rateLimited(deps.cfg),
      },
      async (req, reply) => {
        if (!deps.access.write(req.headers['x-api-key'])) return unauthorized(reply);
        const now = new Date().toISOString();
        const records = (Array.isArray(req.body) ? req.body : [req.body]).map((r) => ({
          event_time: now,
          source: 'http',
          ...(r as object),
        }));
        const results = await deps.publisher
          .publish(records)
          .catch((err: unknown) => Promise.reject(classifyKafkaError(err, 'publish the events')));
        const answer = publishAnswer(results);
        return reply.status(answer.status).send(answer.body);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
      '/tracks/:id/predictions',
      {
        schema: {
          summary: "A track's stored predictions, newest first (one row per event per model)",
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          }),
          response: {
            200: TrackPredictionsResponse,
            ...errorResponses(
              400,
              ...(deps.access.keyed && deps.cfg.apiKeyForReads ? ([401] as const) : []),
              503,
            ),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const predictions = await deps.storage.rows(
          'read the track predictions',
          trackPredictionsSql(req.params.id, req.query.limit ?? 100),
        );
        return { track_id: req.params.id, predictions };
      },
    );
    return Promise.resolve();
  };
