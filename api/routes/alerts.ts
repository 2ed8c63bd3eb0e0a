/**
 * Alertmanager's receiver and the alerts it brought. POST /alerts/webhook takes Alertmanager's
 * webhook JSON: each alert, firing or resolved, is stored in ClickHouse's `alerts` table and
 * published to the alerts topic before the answer, so a failure answers 503 and Alertmanager
 * retries (a retried alert is stored once: its key is the same). GET /alerts serves the active
 * alerts and the history to the Alerts page, the banner on every page and `up`'s status line.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { alertmanagerUrlOf, type Config } from '../../lib/config.ts';
import { strictBody } from '../errors.ts';
import type { Publisher } from '../../producers/publisher.ts';
import { AlertmanagerWebhook, StoredAlert } from '../../schemas/alert.ts';
import { errorResponses } from '../../schemas/api.ts';
import { insertAlerts, readAlerts } from '../alerts-store.ts';
import { type Access, unauthorized } from '../access.ts';
import { rateLimited } from '../protection.ts';
import type { StorageReader } from '../storage.ts';
import { parseWindow } from './drift.ts';

/** Alertmanager sends firing alerts with a zero end time. */
const ZERO_TIME = /^0001-01-01/;

function toStored(body: AlertmanagerWebhook, receivedAt: string): StoredAlert[] {
  return body.alerts.map((a) => {
    const ended = a.status === 'resolved' && !ZERO_TIME.test(a.endsAt);
    return {
      fingerprint: a.fingerprint,
      alertname: a.labels.alertname,
      status: a.status,
      severity: a.labels.severity ?? '',
      summary: a.annotations.summary ?? '',
      runbook: a.annotations.runbook ?? '',
      labels: a.labels,
      starts_at: new Date(a.startsAt).toISOString(),
      ends_at: ended ? new Date(a.endsAt).toISOString() : null,
      received_at: receivedAt,
    };
  });
}

/** Alertmanager sends the key as `Authorization: Bearer`; people and scripts send x-api-key. */
const keyOf = (headers: Record<string, string | string[] | undefined>) => {
  const auth = headers.authorization;
  const bearer = typeof auth === 'string' && /^Bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  return headers['x-api-key'] ?? bearer;
};

export const alertRoutes =
  (deps: {
    cfg: Config;
    clickhouse: ClickHouseClient;
    storage: StorageReader;
    publisher: Publisher;
    access: Access;
  }): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: AlertmanagerWebhook }>(
      '/alerts/webhook',
      {
        schema: {
          summary: 'Alertmanager’s webhook receiver: stores each alert and publishes it to the alerts topic',
          description:
            'The JSON of Alertmanager’s `webhook_configs` (version 4). With HITSTREAM_API_KEY set, send it as `Authorization: Bearer KEY` (Alertmanager’s `http_config.authorization`) or `x-api-key`.',
          body: AlertmanagerWebhook,
          response: {
            200: Type.Object({ stored: Type.Integer({ minimum: 0 }) }),
            ...errorResponses(400, ...(deps.access.keyed ? ([401] as const) : []), 413, 415, 429, 503),
          },
          ...(deps.access.keyed ? { security: [{ apiKey: [] }] } : {}),
        },
        // hitstream's validator, not Fastify's Ajv, which would turn a label's 1 into "1".
        validatorCompiler: strictBody({ body: AlertmanagerWebhook }),
        ...rateLimited(deps.cfg),
      },
      async (req, reply) => {
        if (!deps.access.write(keyOf(req.headers))) return unauthorized(reply);
        const alerts = toStored(req.body, new Date().toISOString());
        await insertAlerts(deps.clickhouse, deps.cfg, alerts);
        await deps.publisher.sendTo(
          deps.cfg.topicAlerts,
          alerts.map((a) => ({ key: a.fingerprint, value: JSON.stringify(a) })),
        );
        req.log.info(
          { alerts: alerts.map((a) => `${a.alertname} ${a.status}`) },
          `alertmanager sent ${alerts.length} alert${alerts.length === 1 ? '' : 's'}`,
        );
        return { stored: alerts.length };
      },
    );

    app.get<{ Querystring: { since?: string; limit?: number } }>(
      '/alerts',
      {
        schema: {
          summary: 'The alerts firing now, and every alert that started in the window (newest first)',
          querystring: Type.Object({
            since: Type.Optional(Type.String({ default: '7d', pattern: '^[1-9][0-9]{0,6}(s|m|h|d)$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
          }),
          response: {
            200: Type.Object({
              active: Type.Array(StoredAlert),
              history: Type.Array(StoredAlert),
              alertmanager: Type.String({ description: 'Where to see and silence them' }),
              silence: Type.String({ description: 'How to silence an alert from a terminal' }),
            }),
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
        const sinceSeconds = parseWindow(req.query.since ?? '7d');
        const limit = req.query.limit ?? 200;
        const [active, history] = await Promise.all([
          // Active ones however long ago they started (30 days back).
          readAlerts(deps.storage, { activeOnly: true, sinceSeconds: 30 * 86400, limit }),
          readAlerts(deps.storage, { activeOnly: false, sinceSeconds, limit }),
        ]);
        const am = alertmanagerUrlOf(deps.cfg);
        return {
          active,
          history,
          alertmanager: am,
          silence: `amtool --alertmanager.url=${am} silence add alertname=NAME --duration=2h --comment="why"`,
        };
      },
    );
    return Promise.resolve();
  };
