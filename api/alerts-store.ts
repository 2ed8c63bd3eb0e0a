/**
 * The `alerts` table: what the receiver writes, and the active alerts and history the Alerts page,
 * the banner and `up`'s status line read. An alert is (fingerprint, starts_at); its state is its
 * latest row's status.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import type { Config } from '../lib/config.ts';
import { sql } from '../lib/sql.ts';
import type { StoredAlert } from '../schemas/alert.ts';
import type { StorageReader } from './storage.ts';

const seconds = (iso: string | null) => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

export async function insertAlerts(client: ClickHouseClient, cfg: Config, alerts: StoredAlert[]) {
  const values = alerts.map((a) => ({
    fingerprint: a.fingerprint,
    alertname: a.alertname,
    status: a.status,
    severity: a.severity,
    summary: a.summary,
    runbook: a.runbook,
    labels: JSON.stringify(a.labels),
    starts_at: seconds(a.starts_at),
    ends_at: seconds(a.ends_at),
    received_at: seconds(a.received_at),
  }));
  try {
    await client.insert({ table: 'alerts', values, format: 'JSONEachRow' });
  } catch (err) {
    throw classifyClickhouseError(err, {
      what: 'store the alerts',
      url: cfg.clickhouseUrl,
      database: cfg.clickhouseDatabase,
    });
  }
}

/** Alerts by (fingerprint, starts_at), newest first: all that started in the window, or the active ones. */
export const alertsSql = (opts: { activeOnly: boolean; sinceSeconds: number; limit: number }) =>
  sql`
SELECT fingerprint, any(alertname) AS alertname, argMax(status, received_at) AS status,
  any(severity) AS severity, argMax(summary, received_at) AS summary, any(runbook) AS runbook,
  any(labels) AS labels, toUnixTimestamp(starts_at) AS starts, toUnixTimestamp(max(ends_at)) AS ends,
  toUnixTimestamp(max(received_at)) AS received
FROM alerts FINAL
WHERE starts_at >= now() - ${opts.sinceSeconds}
GROUP BY fingerprint, starts_at
` +
  (opts.activeOnly ? "HAVING status = 'firing'\n" : '') +
  sql`ORDER BY starts DESC, alertname
LIMIT ${opts.limit}`;

interface AlertRow {
  fingerprint: string;
  alertname: string;
  status: 'firing' | 'resolved';
  severity: string;
  summary: string;
  runbook: string;
  labels: string;
  starts: string | number;
  ends: string | number;
  received: string | number;
}

const iso = (epoch: string | number) => new Date(Number(epoch) * 1000).toISOString();

export async function readAlerts(
  storage: StorageReader,
  opts: { activeOnly: boolean; sinceSeconds: number; limit: number },
): Promise<StoredAlert[]> {
  const rows = await storage.rows<AlertRow>('read the alerts', alertsSql(opts));
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    alertname: r.alertname,
    status: r.status,
    severity: r.severity,
    summary: r.summary,
    runbook: r.runbook,
    labels: JSON.parse(r.labels) as Record<string, string>,
    starts_at: iso(r.starts),
    ends_at: Number(r.ends) > 0 ? iso(r.ends) : null,
    received_at: iso(r.received),
  }));
}
