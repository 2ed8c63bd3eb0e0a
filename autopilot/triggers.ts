/**
 * What starts a run: the policy's alerts, remembered from Alertmanager's webhooks while they fire,
 * once one has fired for `firing_for`; or the schedule (`every`, from the last run's start). The
 * cooldown holds both.
 */
import type { Policy } from './policy.ts';
import { seconds } from './policy.ts';

export interface AlertmanagerPayload {
  alerts?: { status?: string; labels?: Record<string, string>; startsAt?: string; fingerprint?: string }[];
}

interface Firing {
  name: string;
  since: Date;
  labels: Record<string, string>;
}

/** An alert for a person: its name and the labels that say where (version, feature, model). */
const describe = (f: Firing) => {
  const detail = ['version', 'feature', 'model'].filter((k) => f.labels[k]).map((k) => `${k}=${f.labels[k]}`);
  return `${f.name}${detail.length ? ` (${detail.join(', ')})` : ''}`;
};

export function createTriggers(policy: Policy, now: () => Date) {
  const firing = new Map<string, Firing>();
  return {
    /** Remembers the policy's firing alerts, forgets resolved ones; returns how many it heard. */
    hear(payload: AlertmanagerPayload): number {
      let heard = 0;
      for (const a of payload.alerts ?? []) {
        const name = a.labels?.alertname ?? '';
        if (!policy.trigger.alerts.includes(name)) continue;
        heard++;
        const key = a.fingerprint ?? JSON.stringify(a.labels);
        if (a.status === 'resolved') firing.delete(key);
        else firing.set(key, { name, since: new Date(a.startsAt ?? now()), labels: a.labels ?? {} });
      }
      return heard;
    },
    /** Why a run should start now (the last one started at `lastStart`), or undefined. */
    due(lastStart: Date | undefined): string | undefined {
      const t = now().getTime();
      const since = lastStart ? t - lastStart.getTime() : Infinity;
      if (since < seconds(policy.guardrails.cooldown) * 1000) return;
      const every = policy.trigger.every;
      if (every && since >= seconds(every) * 1000)
        return lastStart ? `schedule: every ${every}` : `schedule: every ${every} (first run)`;
      const need = seconds(policy.trigger.firing_for ?? '0s') * 1000;
      const ripe = [...firing.values()].filter((f) => t - f.since.getTime() >= need);
      if (ripe.length)
        return `${ripe.map(describe).join(', ')} firing for ${policy.trigger.firing_for} or more`;
    },
    firing: () =>
      [...firing.values()].map((f) => ({ alert: f.name, since: f.since.toISOString(), labels: f.labels })),
  };
}
