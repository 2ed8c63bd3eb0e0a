/**
 * A run's outcome, through Alertmanager at severity `info` (its routes send it on: the API's
 * receiver stores it for the Alerts page; Slack or e-mail when a user routes `info` there).
 * An alert that ends an hour later: long enough for a group_wait, short enough not to linger.
 */
import type { Logger } from '../lib/logger.ts';
import type { AlertmanagerPayload } from './triggers.ts';

export interface Outcome {
  run: string;
  outcome: string;
  version: string;
  summary: string;
}

export async function notifyOutcome(alertmanagerUrl: string, o: Outcome, log: Logger): Promise<void> {
  const now = new Date();
  const body = [
    {
      labels: {
        alertname: 'HitstreamAutopilotRun',
        severity: 'info',
        outcome: o.outcome,
        run: o.run,
        version: o.version,
      },
      annotations: {
        summary: `autopilot run ${o.run}: ${o.outcome}`,
        description: o.summary,
        runbook:
          '`npx hitstream autopilot status` lists each step with its reason and figures; the Models page draws the run.',
      },
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + 3600_000).toISOString(),
    },
  ];
  try {
    const r = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  } catch (err) {
    // The outcome is in the audit trail either way; a person reading the log learns it was not sent.
    log.warn(
      { err, alertmanager: alertmanagerUrl, run: o.run },
      'could not send the run outcome to Alertmanager',
    );
  }
}

/**
 * The alerts Alertmanager holds active now, as webhook alerts: a restarted autopilot hears what
 * still fires at once, instead of at Alertmanager's next send (up to its repeat interval).
 */
export async function activeAlerts(alertmanagerUrl: string, log: Logger): Promise<AlertmanagerPayload> {
  try {
    const r = await fetch(`${alertmanagerUrl}/api/v2/alerts?active=true&silenced=false&inhibited=false`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    const alerts = (await r.json()) as {
      labels?: Record<string, string>;
      startsAt?: string;
      fingerprint?: string;
    }[];
    return { alerts: alerts.map((a) => ({ ...a, status: 'firing' })) };
  } catch (err) {
    log.warn(
      { err, alertmanager: alertmanagerUrl },
      'could not read the active alerts; waiting for the webhook',
    );
    return { alerts: [] };
  }
}
