/**
 * `bench alerts`: how long from the first drifted event to the notification, with the default
 * settings (quality series every 60 s over 15 min, scrapes and rule evaluation every 15 s, the
 * drift rule as shipped, Alertmanager's group_wait 10 s), through a real Prometheus and
 * Alertmanager started by the stack's own code. A worker and an API on an isolated stack;
 * events with energy shifted by +0.25 at `rate` a second from the start, until the API's receiver
 * holds HitstreamFeatureDrift. Also prints the error estimate's check from the shipped version's
 * training (error-estimate.json): estimated against realized RMSE on test rows it did not learn from.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import type { Config } from '../lib/config.ts';
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { readErrorEstimateFile } from '../models/error-estimate.ts';
import {
  startAlertmanager,
  startPrometheus,
  stopMonitoring,
  writeWorkerTargets,
} from '../infra/stack/monitoring-native.ts';
import { createPublisher } from '../producers/publisher.ts';
import { trackEventFromCsv } from '../producers/track-event.ts';
import { freePort, say, waitFor, withIsolatedStack } from './isolated-stack.ts';
import { printResult } from './report.ts';

export async function benchAlerts(base: Config, opts: { data: string; rate: number; json?: boolean }) {
  const estimate = await readErrorEstimateFile(base.modelsDir || ARTIFACTS_DIR);
  return withIsolatedStack(base, 1, async (stack) => {
    const apiPort = await freePort();
    stack.spawn('api', { apiPort });
    const api = `http://127.0.0.1:${apiPort}`;
    await waitFor(`${api}/health`, 90_000);
    const monitoring: Config = {
      ...stack.cfg,
      home: mkdtempSync(join(tmpdir(), 'hitstream-bench-alerts-')),
      prometheusPort: await freePort(),
      alertmanagerPort: await freePort(),
      apiPort,
    };
    writeWorkerTargets(monitoring, []);
    await startAlertmanager(monitoring, say);
    await startPrometheus(monitoring, say);
    const publisher = await createPublisher(stack.cfg, 'bench');
    try {
      const { tracks } = await loadKaggleCsv(opts.data);
      say(
        `publishing ${opts.rate} events/s with energy +0.25 until the receiver holds HitstreamFeatureDrift (default settings: quality every ${stack.cfg.qualityIntervalSeconds} s, scrape every ${monitoring.scrapeIntervalSeconds} s)`,
      );
      const cpu = stack.cpuWindow();
      const t0 = Date.now();
      let sent = 0;
      let notifiedAfter: number | undefined;
      while (Date.now() - t0 < 6 * 60_000) {
        const now = new Date().toISOString();
        const batch = Array.from({ length: opts.rate }, (_, k) => {
          const e = trackEventFromCsv(tracks[(sent + k) % tracks.length]!, now);
          return { ...e, energy: Math.min(1, e.energy + 0.25) };
        });
        await publisher.publish(batch);
        sent += batch.length;
        const body = (await fetch(`${api}/alerts?since=1h`)
          .then((r) => r.json())
          .catch(() => ({}))) as { active?: { alertname: string }[] };
        if (body.active?.some((a) => a.alertname === 'HitstreamFeatureDrift')) {
          notifiedAfter = (Date.now() - t0) / 1000;
          break;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - ((Date.now() - t0) % 1000))));
      }
      const usage = cpu(sent);
      printResult(
        {
          first_drifted_event_to_notification_s: notifiedAfter ?? 'not within 6 min',
          goal_s: 120,
          drifted_events_sent: sent,
          rate_events_per_s: opts.rate,
          cpu_ms_per_event: usage.perEvent,
          host_cpu_pct: usage.hostPct,
          ...Object.fromEntries(
            Object.entries(estimate?.evaluation ?? {}).map(([score, c]) => [
              `estimate_${score}`,
              `test rows ${c.realized.toFixed(2)} realized / ${c.estimated.toFixed(2)} estimated (${ratio(c)})` +
                (c.shifted
                  ? `; ${c.shifted.what} ${c.shifted.realized.toFixed(2)} / ${c.shifted.estimated.toFixed(2)} (${ratio(c.shifted)})`
                  : '') +
                (c.hardGenres
                  ? `; hardest genres ${c.hardGenres.realized.toFixed(2)} / ${c.hardGenres.estimated.toFixed(2)} (${ratio(c.hardGenres)})`
                  : ''),
            ]),
          ),
        },
        opts.json,
        40,
      );
    } finally {
      await publisher.close();
      await stopMonitoring(monitoring);
    }
  });
}

const ratio = (c: { realized: number; estimated: number }) => `×${(c.estimated / c.realized).toFixed(3)}`;
