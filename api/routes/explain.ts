import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../lib/config.ts';
import type { Serving } from '../../registry/serving.ts';
import { errorResponses, ExplainResponse } from '../../schemas/api.ts';
import { FeatureInput } from '../../schemas/index.ts';
import { strictBody } from '../errors.ts';
import { explainRows } from '../explain-view.ts';
import { rateLimited } from '../protection.ts';
import { PredictQuery, servedSet } from './predict.ts';

/** POST /explain: the /predict body → every score with its SHAP values (models/explain/). */
export const explainRoutes =
  (serving: Serving, cfg: Config): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: FeatureInput; Querystring: { version?: string } }>(
      '/explain',
      {
        schema: {
          summary: 'Why each model scored a track as it did: SHAP values per model feature, for every score',
          description:
            'Random Forest and XGBoost: exact path-dependent Tree SHAP. MLP and TabNet: permutation-sampled Shapley values against 32 training rows (additive exactly). Ensemble: its members’ values, weighted. For every score, base + Σ contributions = output, the score before its 0..100 clip.',
          body: FeatureInput,
          querystring: PredictQuery,
          response: { 200: ExplainResponse, ...errorResponses(400, 404, 409, 413, 415, 429) },
        },
        validatorCompiler: strictBody({ body: FeatureInput, querystring: PredictQuery }),
        ...rateLimited(cfg),
      },
      async (req) => {
        const set = servedSet(serving, req.query.version);
        const [row] = await explainRows(set.models, [req.body], `version ${set.version}`);
        return { ...row!, version: set.version };
      },
    );
    return Promise.resolve();
  };
