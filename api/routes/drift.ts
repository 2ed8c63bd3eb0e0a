import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { HitstreamError } from '../../lib/errors.ts';
import type { Serving } from '../../registry/serving.ts';
import { measureVersion } from '../quality/measure.ts';
import type { StorageReader } from '../storage.ts';
import { type Access, unauthorized } from '../access.ts';
import { errorResponses } from '../../schemas/api.ts';

/** `15m`, `2h`, `90s`, `1d` → seconds. */
const WINDOW = /^([1-9][0-9]{0,6})(s|m|h|d)$/;

export function parseWindow(w: string): number {
  const m = WINDOW.exec(w.trim());
  if (!m)
    throw new HitstreamError(
      'invalid_window',
      `window must be a positive whole number of s, m, h or d (90s, 15m, 2h, 1d); got ${JSON.stringify(w)}`,
      { field: 'window' },
    );
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export const driftRoutes =
  (deps: { storage: StorageReader; serving: Serving; access: Access }): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: { window?: string; version?: string } }>(
      '/drift',
      {
        schema: {
          summary:
            'Drift of each feature and of one version’s scores against that version’s training reference (PSI, Jensen-Shannon), and its error on labelled events',
          querystring: Type.Object({
            window: Type.Optional(
              Type.String({ default: '15m', pattern: WINDOW.source, description: 'e.g. 90s, 15m, 2h, 1d' }),
            ),
            version: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 128,
                description:
                  'a version in the registry (default: the live one); its live and shadow rows count',
              }),
            ),
          }),
          response: {
            200: Type.Object(
              {},
              {
                additionalProperties: true,
                description: 'PSI and Jensen-Shannon per feature and per model, error per model',
              },
            ),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 404, 503),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const seconds = parseWindow(req.query.window ?? '15m');
        const live = deps.serving.live().version;
        const shadow = deps.serving.shadow()?.version ?? null;
        const version = req.query.version ?? live;
        const quality = await measureVersion(deps.storage, deps.serving, version, seconds);
        return {
          ...quality,
          role: version === live ? 'live' : version === shadow ? 'shadow' : null,
        };
      },
    );
    return Promise.resolve();
  };
