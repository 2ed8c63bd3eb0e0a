import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { HitstreamError } from '../../lib/errors.ts';
import { ident, sql, sqlLiteral } from '../../lib/sql.ts';
import type { FeatureRow } from '../../models/features.ts';
import type { Serving } from '../../registry/serving.ts';
import { errorResponses, TrackExplanationResponse } from '../../schemas/api.ts';
import { FEATURE_NAMES } from '../../schemas/track-features.ts';
import { type Access, unauthorized } from '../access.ts';
import { explainRows } from '../explain-view.ts';
import { rateLimited } from '../protection.ts';
import type { StorageReader } from '../storage.ts';
import type { Config } from '../../lib/config.ts';

const FEATURE_COLUMNS = FEATURE_NAMES.map((f) => `toFloat64(${ident(f).name}) AS ${ident(f).name}`).join(
  ', ',
);

/** SQL of the track's latest stored event (exported so the portability test runs it on both engines). */
export const latestTrackEventSql = (trackId: string) =>
  `SELECT event_id, toString(event_time) AS event_time, track_genre, artists, ${FEATURE_COLUMNS}
FROM track_events FINAL
WHERE track_id = ${sqlLiteral(trackId)}
ORDER BY event_time DESC, event_id DESC
LIMIT 1`;

/** SQL of the forest version that scored an event (none when its predictions are not stored yet). */
export const scoredBySql = (eventId: string) => sql`
SELECT model_version FROM predictions FINAL WHERE event_id = ${eventId} AND model = 'rf' LIMIT 1`;

type StoredEvent = Record<(typeof FEATURE_NAMES)[number], number> & {
  event_id: string;
  event_time: string;
  track_genre: string;
  artists: string;
};

/** GET /tracks/:id/explanation: why each model scored the track's latest event as it did. */
export const trackExplanationRoutes =
  (deps: { serving: Serving; storage: StorageReader; access: Access; cfg: Config }): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { id: string } }>(
      '/tracks/:id/explanation',
      {
        schema: {
          summary:
            "Why each model scored a track's latest stored event as it did (SHAP values, as POST /explain)",
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
          response: {
            200: TrackExplanationResponse,
            ...errorResponses(
              400,
              ...(deps.access.keyed && deps.cfg.apiKeyForReads ? ([401] as const) : []),
              404,
              409,
              429,
              503,
            ),
          },
        },
        ...rateLimited(deps.cfg),
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const [event] = await deps.storage.rows<StoredEvent>(
          'read the track’s latest event',
          latestTrackEventSql(req.params.id),
        );
        if (!event)
          throw new HitstreamError('unknown_track', `no stored event of track ${req.params.id}`, {
            field: 'id',
            status: 404,
          });
        const [scored] = await deps.storage.rows<{ model_version: string }>(
          'read which version scored it',
          scoredBySql(event.event_id),
        );
        const scoredBy = scored?.model_version ?? null;
        const { serving } = deps;
        const scoredWith = [serving.live(), serving.shadow()].find(
          (s) => s && s.models.versions.rf === scoredBy,
        );
        const set = scoredWith ?? serving.live();
        const row = {
          ...Object.fromEntries(FEATURE_NAMES.map((f) => [f, Number(event[f])])),
          explicit: Number(event.explicit) === 1,
          mode: Number(event.mode),
          ...(event.track_genre ? { track_genre: event.track_genre } : {}),
          ...(event.artists ? { artists: event.artists } : {}),
        } as unknown as FeatureRow;
        const [explained] = await explainRows(set.models, [row], `version ${set.version}`);
        return {
          ...explained!,
          version: set.version,
          track_id: req.params.id,
          event_id: event.event_id,
          event_time: event.event_time,
          scored_by: scoredBy,
          same_models: scoredWith !== undefined,
        };
      },
    );
    return Promise.resolve();
  };
