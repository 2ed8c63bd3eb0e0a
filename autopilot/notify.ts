/**
 * A run's outcome, through Alertmanager at severity `info` (its routes send it on: the API's
 * receiver stores it for the Alerts page; Slack or e-mail when a user routes `info` there).
 * An alert that ends an hour later: long enough for a group_wait, short enough not to linger.
 */
import type { Logger } from '../lib/logger.ts';

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
      annotations: { summary: `autopilot run ${o.run}: ${o.outcome}`, description: o.summary },
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
