import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { HitstreamError } from '../../lib/errors.ts';
import { jensenShannon, psi, shares } from '../../models/drift-reference.ts';
import type { Serving } from '../../models/registry/serving.ts';
import { MODEL_NAMES, type ModelName } from '../../schemas/index.ts';
import { featureBinsSql, scoreBinsSql } from '../../models/drift-sql.ts';
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

export const PSI_ALERT = 0.2;

interface BinRow {
  key: string;
  bin: number;
  n: number;
}

function compare(rows: BinRow[], key: string, ref: { edges: number[]; proportions: number[] }) {
  const counts = new Map(rows.filter((r) => r.key === key).map((r) => [Number(r.bin), Number(r.n)]));
  const live = shares(counts, ref.proportions.length);
  const n = [...counts.values()].reduce((a, b) => a + b, 0);
  const p = n ? psi(ref.proportions, live) : null;
  return {
    n,
    psi: p,
    js: n ? jensenShannon(ref.proportions, live) : null,
    drifted: p !== null && p >= PSI_ALERT,
    live,
    reference: ref.proportions,
  };
}

export const driftRoutes =
  (deps: { storage: StorageReader; serving: Serving; access: Access }): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: { window?: string } }>(
      '/drift',
      {
        schema: {
          summary:
            'Drift of each feature and each model score against the training reference (PSI, Jensen-Shannon)',
          querystring: Type.Object({
            window: Type.Optional(
              Type.String({ default: '15m', pattern: WINDOW.source, description: 'e.g. 90s, 15m, 2h, 1d' }),
            ),
          }),
          response: {
            200: Type.Object(
              {},
              { additionalProperties: true, description: 'PSI and Jensen-Shannon per feature and per model' },
            ),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 503),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const seconds = parseWindow(req.query.window ?? '15m');
        // The live version's references: a promotion changes them with no dashboards run.
        const { models } = deps.serving.live();
        const ref = models.manifests.rf.drift.features;
        const featureEdges = Object.fromEntries(Object.entries(ref).map(([f, r]) => [f, r.edges]));
        const scoreRef = Object.fromEntries(
          MODEL_NAMES.map((m) => [m, models.manifests[m].drift.score]),
        ) as Record<ModelName, { edges: number[]; proportions: number[] }>;
        const scoreEdges = Object.fromEntries(MODEL_NAMES.map((m) => [m, scoreRef[m].edges])) as Record<
          ModelName,
          number[]
        >;
        const [fr, sr] = await Promise.all([
          deps.storage.rows<{ feature: string; bin: number; n: string }>(
            'read the feature drift',
            featureBinsSql(featureEdges, seconds),
          ),
          deps.storage.rows<{ model: string; bin: number; n: string }>(
            'read the score drift',
            scoreBinsSql(scoreEdges, seconds),
          ),
        ]);
        const featureRows = fr.map((r) => ({ key: r.feature, bin: Number(r.bin), n: Number(r.n) }));
        const scoreRows = sr.map((r) => ({ key: r.model, bin: Number(r.bin), n: Number(r.n) }));
        return {
          window_seconds: seconds,
          psi_alert: PSI_ALERT,
          features: Object.fromEntries(
            Object.keys(featureEdges)
              .filter((f) => f !== 'genre_popularity')
              .map((f) => [f, compare(featureRows, f, ref[f]!)]),
          ),
          models: Object.fromEntries(MODEL_NAMES.map((m) => [m, compare(scoreRows, m, scoreRef[m])])),
        };
      },
    );
    return Promise.resolve();
  };
