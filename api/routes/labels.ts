/**
 * Labels that arrive after their events: POST /labels publishes them to the labels topic (the
 * label sink stores them), GET /labels/recent shows the latest that landed, with when.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../lib/config.ts';
import { classifyKafkaError } from '../../lib/kafka-errors.ts';
import { sql } from '../../lib/sql.ts';
import { publishLabels } from '../../producers/labels.ts';
import type { Publisher } from '../../producers/publisher.ts';
import { ApiError, errorResponses, PublishResponse } from '../../schemas/api.ts';
import { LabelInput } from '../../schemas/label.ts';
import { type Access, unauthorized } from '../access.ts';
import { rateLimited } from '../protection.ts';
import type { StorageReader } from '../storage.ts';
import { MAX_RECORDS, publishAnswer, recordsOnly } from './tracks.ts';

/** SQL of GET /labels/recent (exported so the portability test runs it on both engines). */
export const recentLabelsSql = (limit: number) => sql`
SELECT track_id, event_id, popularity, toUnixTimestamp(label_time) AS label_s, toUnixTimestamp(arrived_at) AS arrived_s, source
FROM labels FINAL
ORDER BY arrived_at DESC, track_id, event_id, label_time DESC
LIMIT ${limit}`;

export const labelRoutes =
  (deps: { publisher: Publisher; storage: StorageReader; access: Access; cfg: Config }): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: unknown }>(
      '/labels',
      {
        schema: {
          summary: 'Publish one label or a batch: the popularity a track (or one event) turned out to have',
          description: `A Label object or an array of up to ${MAX_RECORDS}. \`label_time\` defaults to now. Each record is answered on its own; the accepted ones are stored by the label sink and judge the track's predictions from then on.`,
          body: Type.Union([LabelInput, Type.Array(LabelInput, { minItems: 1, maxItems: MAX_RECORDS })]),
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
        validatorCompiler: () => (body: unknown) => recordsOnly(body, 'a label object'),
        ...rateLimited(deps.cfg),
      },
      async (req, reply) => {
        if (!deps.access.write(req.headers['x-api-key'])) return unauthorized(reply);
        const records = Array.isArray(req.body) ? req.body : [req.body];
        const results = await publishLabels(deps.publisher, deps.cfg, records, 'http').catch((err: unknown) =>
          Promise.reject(classifyKafkaError(err, 'publish the labels')),
        );
        const answer = publishAnswer(results);
        return reply.status(answer.status).send(answer.body);
      },
    );

    app.get<{ Querystring: { limit?: number } }>(
      '/labels/recent',
      {
        schema: {
          summary: 'The labels that landed last, newest arrival first, with their own time and their arrival',
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          }),
          response: {
            200: Type.Object({
              labels: Type.Array(
                Type.Object({
                  track_id: Type.String(),
                  event_id: Type.String(),
                  popularity: Type.Integer(),
                  label_time: Type.String({ format: 'date-time' }),
                  arrived_at: Type.String({ format: 'date-time' }),
                  source: Type.String(),
                }),
              ),
            }),
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
        const rows = await deps.storage.rows<Record<string, unknown>>(
          'read the recent labels',
          recentLabelsSql(req.query.limit ?? 50),
        );
        return {
          labels: rows.map((r) => ({
            track_id: String(r.track_id),
            event_id: String(r.event_id),
            popularity: Number(r.popularity),
            // Seconds since the epoch, whatever the server's time zone, as ISO 8601 (UTC).
            label_time: new Date(Number(r.label_s) * 1000).toISOString(),
            arrived_at: new Date(Number(r.arrived_s) * 1000).toISOString(),
            source: String(r.source),
          })),
        };
      },
    );
    return Promise.resolve();
  };
