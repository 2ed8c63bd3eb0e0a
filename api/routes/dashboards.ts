/**
 * The dashboards without Grafana: `GET /dashboards/panels` lists the panels of `dashboards/*.ts`
 * (the same builders as the Grafana JSON), and `GET /dashboards/panels/:panel` runs one
 * panel's query with the ClickHouse plugin's macros expanded for a time range, the way the
 * plugin does. /dashboards.html draws the answers.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { expandMacros } from '../../dashboards/macros.ts';
import { dashboardViews, type PanelView } from '../../dashboards/panels.ts';
import { isWallClock, wallClockToEpoch } from '../../lib/clickhouse-time.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { errorResponses } from '../../schemas/api.ts';
import { type Access, unauthorized } from '../access.ts';
import type { StorageReader } from '../storage.ts';

const MAX_RANGE_SECONDS = 31 * 86400;
const DEFAULT_RANGE_SECONDS = 3600;
const EPOCH = { minimum: 0, maximum: 4_102_444_800 };

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

    // Every panel that has a query, by `<dashboard uid>.<panel id>`: the schema lists them, so a
    // request the schema admits names a real panel (and nothing else can run).
    const runnable = new Map<string, PanelView>(
      dashboardViews().flatMap((d) => d.panels.filter((p) => p.sql).map((p) => [`${d.uid}.${p.id}`, p])),
    );
    // Panels with the same SQL (PSI per feature as lines and as a heat map, the heaviest query)
    // are asked together by every refresh: while one runs, the other waits for its answer
    // instead of running it again (bench dashboards: ~150 ms each on 18.16). Nothing is kept after.
    const titlesOf = new Map<string, string[]>();
    for (const p of runnable.values())
      titlesOf.set(p.sql!, [...(titlesOf.get(p.sql!) ?? []), `“${p.title}”`]);
    const inFlight = new Map<string, Promise<Record<string, unknown>[]>>();
    const runPanelQuery = (panel: PanelView, query: string) => {
      let answer = inFlight.get(query);
      if (!answer) {
        const titles = titlesOf.get(panel.sql!)!;
        answer = deps.storage
          .rows<Record<string, unknown>>(
            `run the panel${titles.length > 1 ? 's' : ''} ${titles.join(' and ')}`,
            query,
          )
          .finally(() => inFlight.delete(query));
        inFlight.set(query, answer);
      }
      return answer;
    };
    app.get<{ Params: { panel: string }; Querystring: { seconds?: number; to?: number } }>(
      '/dashboards/panels/:panel',
      {
        schema: {
          summary: 'One panel’s rows for a time range (its SQL with the macros expanded)',
          params: Type.Object({
            panel: Type.Union(
              [...runnable.keys()].map((k) => Type.Literal(k)),
              { description: '`<dashboard uid>.<panel id>`, as GET /dashboards/panels lists them' },
            ),
          }),
          // A length and an end rather than two instants: every range the schema admits is a
          // valid one, so a bad range is a schema error naming its field.
          querystring: Type.Object({
            // Optional in the contract: it has a default (schemathesis: a request without it was
            // answered 200 while the document called it required).
            seconds: Type.Optional(
              Type.Integer({
                minimum: 60,
                maximum: MAX_RANGE_SECONDS,
                default: DEFAULT_RANGE_SECONDS,
                description: 'length of the range, 60 s to 31 days (default one hour)',
              }),
            ),
            to: Type.Optional(
              Type.Integer({ ...EPOCH, description: 'end of the range, epoch seconds (default now)' }),
            ),
          }),
          response: {
            200: Type.Object({
              columns: Type.Array(Type.String()),
              rows: Type.Array(Type.Array(Type.Unknown())),
            }),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 503),
          },
        },
      },
      async (req, reply) => {
        if (!deps.access.read(req.headers['x-api-key'])) return unauthorized(reply);
        const panel = runnable.get(req.params.panel);
        if (!panel?.sql)
          throw new HitstreamError(
            'unknown_panel',
            `no panel with a query is called ${JSON.stringify(req.params.panel)} (GET /dashboards/panels lists them)`,
            { field: 'panel', status: 404 },
          );
        const to = req.query.to ?? Math.ceil(Date.now() / 1000);
        const from = Math.max(0, to - (req.query.seconds ?? DEFAULT_RANGE_SECONDS));
        const rows = await runPanelQuery(
          panel,
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
