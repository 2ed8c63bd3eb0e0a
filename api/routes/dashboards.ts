/**
 * The dashboards without Grafana: `GET /dashboards/panels` lists the panels of `dashboards/*.ts`
 * (the same builders as the Grafana JSON), and `GET /dashboards/:uid/panels/:id` runs one
 * panel's query with the ClickHouse plugin's macros expanded for a time range, the way the
 * plugin does. /dashboards.html draws the answers.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { expandMacros } from '../../dashboards/macros.ts';
import { dashboardViews } from '../../dashboards/panels.ts';
import { isWallClock, wallClockToEpoch } from '../../lib/clickhouse-time.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { errorResponses } from '../../schemas/api.ts';
import { type Access, unauthorized } from '../access.ts';
import type { StorageReader } from '../storage.ts';

const MAX_RANGE_SECONDS = 31 * 86400;
const EPOCH = { minimum: 0, maximum: 4_102_444_800, description: 'epoch seconds' };

export const dashboardRoutes =
  (deps: { storage: StorageReader; access: Access }): FastifyPluginAsync =>
  async (app) => {
    let zone: string | undefined;
    const serverZone = async () => {
      zone ??= (
        await deps.storage.rows<{ tz: string }>('read the server time zone', 'SELECT timezone() AS tz')
      )[0]?.tz;
      return zone ?? 'UTC';
    };

    app.get(
      '/dashboards/panels',
      {
        schema: {
          summary: 'The dashboards’ panels: section, type, ClickHouse SQL (plugin macros), thresholds',
          response: {
            200: Type.Object({ dashboards: Type.Array(Type.Object({}, { additionalProperties: true })) }),
            ...errorResponses(...(deps.access.keyed ? ([401] as const) : [])),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        return { dashboards: dashboardViews() };
      },
    );

    app.get<{ Params: { uid: string; id: number }; Querystring: { from: number; to: number } }>(
      '/dashboards/:uid/panels/:id',
      {
        schema: {
          summary: 'One panel’s rows for a time range (its SQL with the macros expanded)',
          params: Type.Object({
            uid: Type.String({ maxLength: 64 }),
            id: Type.Integer({ minimum: 0, maximum: 1000 }),
          }),
          querystring: Type.Object({ from: Type.Integer(EPOCH), to: Type.Integer(EPOCH) }),
          response: {
            200: Type.Object({
              columns: Type.Array(Type.String()),
              rows: Type.Array(Type.Array(Type.Unknown())),
            }),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 404, 503),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const { from, to } = req.query;
        if (to <= from || to - from > MAX_RANGE_SECONDS)
          throw new HitstreamError(
            'invalid_range',
            `from must be before to, at most 31 days apart (got ${from} .. ${to})`,
            { field: 'from' },
          );
        const panel = dashboardViews()
          .find((d) => d.uid === req.params.uid)
          ?.panels.find((p) => p.id === req.params.id);
        if (!panel?.sql)
          throw new HitstreamError(
            'unknown_panel',
            `no ClickHouse panel ${req.params.id} in dashboard ${JSON.stringify(req.params.uid)} (GET /dashboards/panels lists them)`,
            { field: 'id', status: 404 },
          );
        const rows = await deps.storage.rows<Record<string, unknown>>(
          `run the panel “${panel.title}”`,
          expandMacros(panel.sql, new Date(from * 1000), new Date(to * 1000)),
        );
        const columns = rows[0] ? Object.keys(rows[0]) : [];
        const tz = await serverZone();
        // Times as epoch seconds, numbers as numbers (64-bit counts come back as strings).
        const cell = (v: unknown) =>
          isWallClock(v)
            ? wallClockToEpoch(v, tz)
            : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)
              ? Number(v)
              : v;
        return { columns, rows: rows.map((r) => columns.map((c) => cell(r[c]))) };
      },
    );
    return Promise.resolve();
  };
