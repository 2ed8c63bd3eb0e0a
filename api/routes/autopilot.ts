/**
 * The autopilot on the Models page: GET /autopilot/runs (its runs, step by step, from the audit
 * trail) and POST /models/{version}/promote (a person's approval: the same gate as `models
 * promote`, the sequential test, so an approval cannot promote a version the test does not back).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../lib/config.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { groupRuns, lastRunsSql, parseStep, type StoredStep } from '../../registry/trail.ts';
import { errorResponses } from '../../schemas/api.ts';
import { type Access, unauthorized } from '../access.ts';
import { rateLimited } from '../protection.ts';
import type { StorageReader } from '../storage.ts';

const StepSchema = Type.Object({
  seq: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  by: Type.String(),
  step: Type.String(),
  state: Type.String(),
  version: Type.String(),
  reason: Type.String(),
  figures: Type.Record(Type.String(), Type.Unknown()),
});

const RunSchema = Type.Object({
  run: Type.String(),
  state: Type.String({ description: 'training, judging, approval, probation, or done' }),
  outcome: Type.Union([Type.String(), Type.Null()], { description: 'the last step of a finished run' }),
  candidate: Type.String(),
  started: Type.String({ format: 'date-time' }),
  steps: Type.Array(StepSchema),
});

/** Who approved, for the audit trail: the page through this API. */
const APPROVER = 'models page (API)';

export const autopilotRoutes =
  (deps: { storage: StorageReader; access: Access; cfg: Config }): FastifyPluginAsync =>
  async (app) => {
    let lifecycle: ReturnType<typeof createLifecycle> | undefined;
    app.addHook('onClose', async () => lifecycle?.close());

    app.get<{ Querystring: { limit?: number } }>(
      '/autopilot/runs',
      {
        schema: {
          summary: "The autopilot's last runs, newest first, each step with who, why and its figures",
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
          }),
          response: {
            200: Type.Object({ runs: Type.Array(RunSchema) }),
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
        const rows = await deps.storage.rows<StoredStep>(
          'the autopilot runs',
          lastRunsSql(req.query.limit ?? 10),
        );
        const runs = groupRuns(rows.map(parseStep)).map((steps) => {
          const last = steps.at(-1)!;
          return {
            run: last.run,
            state: last.state,
            outcome: last.state === 'done' ? last.step : null,
            candidate: [...steps].reverse().find((s) => s.version)?.version ?? '',
            started: steps[0]!.at,
            steps: steps.map(({ run: _run, ...s }) => s),
          };
        });
        return { runs };
      },
    );

    app.post<{ Params: { version: string } }>(
      '/models/:version/promote',
      {
        schema: {
          summary:
            'Promote a version to live (approval): refused unless the promotion test shows it better than live',
          params: Type.Object({ version: Type.String({ minLength: 1, maxLength: 200 }) }),
          response: {
            200: Type.Object({
              live: Type.String(),
              shadow: Type.Union([Type.String(), Type.Null()]),
              by: Type.String(),
            }),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 404, 409, 429, 503),
          },
          ...(deps.access.keyed ? { security: [{ apiKey: [] }] } : {}),
        },
        ...rateLimited(deps.cfg),
      },
      async (req, reply) => {
        if (!deps.access.write(req.headers['x-api-key'])) return unauthorized(reply);
        lifecycle ??= createLifecycle(deps.cfg, createLogger('api', 'warn'), { by: APPROVER });
        const state = await lifecycle.promote(req.params.version).catch((err: unknown) => {
          if (!(err instanceof HitstreamError)) throw err;
          const unknown = /not in the registry/.test(err.message);
          if (err.code === 'promote_refused' || err.code === 'role_refused')
            throw new HitstreamError(err.code, err.message, {
              field: 'version',
              status: unknown ? 404 : 409,
            });
          throw err;
        });
        return { live: state.live, shadow: state.shadow, by: state.by };
      },
    );
    return Promise.resolve();
  };
