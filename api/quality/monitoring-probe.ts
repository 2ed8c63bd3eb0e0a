/**
 * Whether Prometheus and Alertmanager answer, for /health. Cached for a few seconds: /health is
 * polled often (probes, `up`), and an unreachable host must not make every poll wait a second.
 */
import { alertmanagerUrlOf, type Config, prometheusUrlOf } from '../../lib/config.ts';

const CACHE_MS = 5_000;

const answers = (url: string) =>
  fetch(`${url.replace(/\/$/, '')}/-/ready`, { signal: AbortSignal.timeout(1_000) })
    .then((r) => r.ok)
    .catch(() => false);

export function monitoringProbe(cfg: Config) {
  let cached:
    | { at: number; value: Promise<{ prometheus: boolean; alertmanager: boolean; degraded: boolean }> }
    | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > CACHE_MS)
      cached = {
        at: Date.now(),
        value: Promise.all([answers(prometheusUrlOf(cfg)), answers(alertmanagerUrlOf(cfg))]).then(
          ([prometheus, alertmanager]) => ({
            prometheus,
            alertmanager,
            degraded: !prometheus || !alertmanager,
          }),
        ),
      };
    return cached.value;
  };
}
