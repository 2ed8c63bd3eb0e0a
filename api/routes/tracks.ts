import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { classifyKafkaError } from '../../lib/kafka-errors.ts';
import { sql } from '../../lib/sql.ts';
import type { Publisher } from '../../producers/publisher.ts';
import { ApiError, PublishResponse } from '../../schemas/api.ts';
import type { StorageReader } from '../storage.ts';

const MAX_RECORDS = 1000;

/** SQL of GET /tracks/:id/predictions (exported so the portability test runs it on both engines). */
export const trackPredictionsSql = (trackId: string, limit: number) => sql`
SELECT event_id, model, model_version, score, popularity, latency_ms, event_time, scored_at
FROM predictions FINAL
WHERE track_id = ${trackId}
ORDER BY scored_at DESC, event_id, model
LIMIT ${limit}`;

export const trackRoutes =
  (deps: {
    publisher: Publisher;
    storage: StorageReader;
    requireKey: (key: string | undefined) => boolean;
  }): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: unknown }>(
      '/tracks',
      {
        schema: {
          summary: 'Publish one track event or a batch; each record is answered on its own',
          description: `A TrackFeatures object or an array of up to ${MAX_RECORDS}. \`event_time\` and \`source\` default to now and "http".`,
          body: Type.Union([
            Type.Object({}, { additionalProperties: true }),
            Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: MAX_RECORDS }),
          ]),
          response: {
            202: PublishResponse,
            207: PublishResponse,
            400: Type.Union([PublishResponse, ApiError]),
            401: ApiError,
          },
        },
      },
      async (req, reply) => {
        if (!deps.requireKey(req.headers['x-api-key'] as string | undefined))
          return reply
            .status(401)
            .send({ code: 'unauthorized', message: 'this endpoint needs header x-api-key' });
        const now = new Date().toISOString();
        const records = (Array.isArray(req.body) ? req.body : [req.body]).map((r) => ({
          event_time: now,
          source: 'http',
          ...(r as object),
        }));
        const results = await deps.publisher
          .publish(records)
          .catch((err: unknown) => Promise.reject(classifyKafkaError(err, 'publish the events')));
        const accepted = results.filter((r) => r.ok).length;
        const body = {
          accepted,
          rejected: results.length - accepted,
          results: results.map((r) =>
            r.ok
              ? { index: r.index, accepted: true, track_id: r.track_id }
              : { index: r.index, accepted: false, errors: r.errors },
          ),
        };
        return reply.status(accepted === results.length ? 202 : accepted ? 207 : 400).send(body);
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
        },
      },
      async (req) => {
        const predictions = await deps.storage.rows(
          'read the track predictions',
          trackPredictionsSql(req.params.id, req.query.limit ?? 100),
        );
        return { track_id: req.params.id, predictions };
      },
    );
    return Promise.resolve();
  };
