import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { HitstreamError } from '../../lib/errors.ts';
import { type BinnedReference, jensenShannon, psi, shares } from '../../models/drift-reference.ts';
import type { Serving } from '../../models/registry/serving.ts';
import type { ScoreName } from '../../schemas/index.ts';
import { FEATURE_NAMES } from '../../schemas/track-features.ts';
import { featureBinsSql, scoreBinsSql, versionErrorSql } from '../../models/drift-sql.ts';
import { driftReferencesSql, parseDriftReferences, referencesOf } from '../../models/registry/references.ts';
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

function compare(rows: BinRow[], key: string, ref: BinnedReference) {
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

interface ErrorRow {
  model: string;
  n: string | number;
  rmse: number | null;
  mae: number | null;
  bias: number | null;
}

/** The references of `version`: from memory when it is served, else from drift_references. */
async function referencesFor(storage: StorageReader, serving: Serving, version: string) {
  const served = serving.byVersion(version);
  if (served) return referencesOf(served.models);
  const rows = await storage.rows<Record<string, unknown>>(
    'read the drift references',
    driftReferencesSql(version),
  );
  const refs = parseDriftReferences(rows);
  if (!refs)
    throw new HitstreamError(
      'unknown_version',
      `version ${version} has no drift references (served: ${serving.live().version}${serving.shadow() ? `, shadow ${serving.shadow()!.version}` : ''}; \`npx hitstream models list\` lists the registry)`,
      { field: 'version', status: 404 },
    );
  return refs;
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
        // The version's own references: a promotion changes them with no dashboards run.
        const ref = await referencesFor(deps.storage, deps.serving, version);
        const featureEdges = Object.fromEntries(Object.entries(ref.features).map(([f, r]) => [f, r.edges]));
        // The ensemble's too when the version has one.
        const scoreNames = Object.keys(ref.scores) as ScoreName[];
        const scoreEdges = Object.fromEntries(scoreNames.map((m) => [m, ref.scores[m]!.edges]));
        const [fr, sr, er] = await Promise.all([
          deps.storage.rows<{ feature: string; bin: number; n: string }>(
            'read the feature drift',
            featureBinsSql(featureEdges, seconds),
          ),
          deps.storage.rows<{ model: string; bin: number; n: string }>(
            'read the score drift',
            scoreBinsSql(scoreEdges, seconds, version),
          ),
          deps.storage.rows<ErrorRow>('read the error on labelled events', versionErrorSql(seconds, version)),
        ]);
        const featureRows = fr.map((r) => ({ key: r.feature, bin: Number(r.bin), n: Number(r.n) }));
        const scoreRows = sr.map((r) => ({ key: r.model, bin: Number(r.bin), n: Number(r.n) }));
        const errors = new Map(er.map((r) => [r.model, r]));
        const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
        return {
          version,
          role: version === live ? 'live' : version === shadow ? 'shadow' : null,
          window_seconds: seconds,
          psi_alert: PSI_ALERT,
          features: Object.fromEntries(
            Object.keys(featureEdges)
              // The columns the models derive (genre, artist) are not stored on events.
              .filter((f) => (FEATURE_NAMES as readonly string[]).includes(f))
              .map((f) => [f, compare(featureRows, f, ref.features[f]!)]),
          ),
          models: Object.fromEntries(
            scoreNames.map((m) => {
              const e = errors.get(m);
              return [
                m,
                {
                  ...compare(scoreRows, m, ref.scores[m]!),
                  labelled: {
                    n: Number(e?.n ?? 0),
                    rmse: num(e?.rmse),
                    mae: num(e?.mae),
                    bias: num(e?.bias),
                  },
                },
              ];
            }),
          ),
        };
      },
    );
    return Promise.resolve();
  };
