import type { FastifyPluginAsync } from 'fastify';
import type { Serving } from '../../registry/serving.ts';
import { MODEL_NAMES } from '../../schemas/index.ts';

/**
 * GET /models: each model's manifest (version, metrics, importance, training data) minus bulky
 * internals, and the ensemble's (weights, test metrics, the best single model it beat) or null.
 */
export const modelRoutes =
  (serving: Serving): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/models',
      { schema: { summary: 'Model manifests: versions, metrics, feature importance, drift references' } },
      () => {
        const { version, models } = serving.live();
        return {
          version,
          shadow: serving.shadow()?.version ?? null,
          features: models.features,
          models: MODEL_NAMES.map((m) => {
            const { preprocessing, ...rest } = models.manifests[m];
            return {
              ...rest,
              genre_prior: preprocessing.genre.prior,
              genres: Object.keys(preprocessing.genre.means).sort(),
            };
          }),
          ensemble: models.ensemble ?? null,
        };
      },
    );
    return Promise.resolve();
  };
