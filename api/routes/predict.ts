import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../lib/config.ts';
import { Type } from '@sinclair/typebox';
import { HitstreamError } from '../../lib/errors.ts';
import type { Serving } from '../../registry/serving.ts';
import { errorResponses, PredictResponse } from '../../schemas/api.ts';
import { strictBody } from '../errors.ts';
import { rateLimited } from '../protection.ts';
import { FeatureInput } from '../../schemas/index.ts';
import { createPredictBatcher } from '../predict-batcher.ts';

export const PredictQuery = Type.Object({
  version: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'This version: the live one (the default) or the shadow one',
    }),
  ),
});

/** The set a request names (`?version=`), or live; 404 naming the version when this process does not serve it. */
export function servedSet(serving: Serving, version: string | undefined) {
  const set = version ? serving.byVersion(version) : serving.live();
  if (!set)
    throw new HitstreamError(
      'unknown_version',
      `version ${version} is not served here: live is ${serving.live().version}, shadow ${serving.shadow()?.version ?? 'none'}`,
      { field: 'version', status: 404 },
    );
  return set;
}

/** POST /predict: one track's features → all four models' scores (and the ensemble's when the version has one), timings and TabNet's mask. */
export const predictRoutes =
  (serving: Serving, cfg: Config): FastifyPluginAsync =>
  async (app) => {
    const batcher = createPredictBatcher({
      maxBatch: cfg.predictBatchMax,
      windowMs: cfg.predictBatchWindowMs,
    });
    app.post<{ Body: FeatureInput; Querystring: { version?: string } }>(
      '/predict',
      {
        schema: {
          summary: 'Score one track with all four models (and the ensemble, when the version ships one)',
          body: FeatureInput,
          querystring: PredictQuery,
          response: { 200: PredictResponse, ...errorResponses(400, 404, 413, 415, 429) },
        },
        validatorCompiler: strictBody({ body: FeatureInput, querystring: PredictQuery }),
        ...rateLimited(cfg),
      },
      async (req) => {
        const set = servedSet(serving, req.query.version);
        const { models } = set;
        // Scored with the requests that arrive alongside it (api/predict-batcher.ts).
        const p = await batcher.score(models, req.body);
        return {
          scores: Object.fromEntries(p.names.map((m) => [m, Math.round(p.scores[m]! * 100) / 100])),
          inference_us: Object.fromEntries(p.names.map((m) => [m, Math.round(p.inferenceUs[m]! * 10) / 10])),
          tabnet_mask: Object.fromEntries(
            models.features.map((f, j) => [f, Math.round(p.mask[j]! * 1000) / 1000]),
          ),
          model_versions: Object.fromEntries(p.names.map((m) => [m, models.versions[m]!])),
          version: set.version,
        };
      },
    );
    return Promise.resolve();
  };
