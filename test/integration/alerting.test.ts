/**
 * Drift reaches a person, through the real chain: a worker scores, the API computes the quality
 * series from ClickHouse, a real Prometheus (started by the stack's own code, with the generated
 * rules) scrapes and evaluates them, a real Alertmanager routes the alert to the API's receiver,
 * which stores it in the `alerts` table, publishes it, and shows it on the Alerts page (Chromium).
 * Short intervals and a 30-second window; the rules are the shipped ones.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import {
  startAlertmanager,
  startPrometheus,
  stopMonitoring,
  writeWorkerTargets,
} from '../../infra/stack/monitoring-native.ts';
import type { Config } from '../../lib/config.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { replayCsv } from '../../producers/replay.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, eventuallyStored, isolatedPipeline, testKafka } from '../helpers/services.ts';

const CHROMIUM = '/usr/bin/chromium';
const SAMPLE = 'data/spotify_tracks_sample.csv';
const WINDOW_SECONDS = 30;

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
let monitoring: Config;
let browser: Browser | undefined;

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
const prometheusAlerts = async () =>
  (
    (await (await fetch(`http://127.0.0.1:${monitoring.prometheusPort}/api/v1/alerts`)).json()) as {
      data: { alerts: PromAlert[] };
    }
  ).data.alerts;
const promValue = async (query: string) => {
  const r = (await (
    await fetch(
      `http://127.0.0.1:${monitoring.prometheusPort}/api/v1/query?query=${encodeURIComponent(query)}`,
    )
  ).json()) as { data: { result: { value: [number, string] }[] } };
  return r.data.result.map((x) => Number(x.value[1]));
};

/**
 * The sample with energy raised by 0.25 (capped at 1), a producer that changed its scale, published
 * at `perSecond` events a second (event time: now) until `stop()`: the window always holds some.
 */
async function streamShiftedSample(perSecond: number) {
  const { tracks } = await loadKaggleCsv(SAMPLE);
  let sent = 0;
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i = (i + perSecond) % tracks.length) {
      const now = new Date().toISOString();
      const events = tracks.slice(i, i + perSecond).map((t) => {
        const e = trackEventFromCsv(t, now);
        return { ...e, energy: Math.min(1, e.energy + 0.25) };
      });
      const results = await s.publisher.publish(events);
      assert.ok(results.every((r) => r.ok));
      sent += events.length;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    sent: () => sent,
    stop: () => ((stopped = true), done),
  };
}

before(async () => {
  p = await isolatedPipeline();
  s = await startScoringApp(p, {
    listen: true,
    qualityMetrics: true,
    // /health asks the test's own Prometheus and Alertmanager.
    cfg: {
      qualityIntervalSeconds: 2,
      qualityWindowSeconds: WINDOW_SECONDS,
      prometheusPort: 19090,
      alertmanagerPort: 19097,
    },
  });
  monitoring = {
    ...p.cfg,
    home: mkdtempSync(join(tmpdir(), 'hitstream-monitoring-')),
    prometheusPort: 19090,
    alertmanagerPort: 19097,
    apiPort: Number(new URL(s.base).port),
    scrapeIntervalSeconds: 1,
  };
  const say = (m: string) => process.stderr.write(`alerting test: ${m}\n`);
  writeWorkerTargets(monitoring, []);
  await startAlertmanager(monitoring, say);
  await startPrometheus(monitoring, say);
  if (existsSync(CHROMIUM))
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
});
after(async () => {
  await browser?.close();
  if (monitoring) await stopMonitoring(monitoring);
  await s.stop();
  await p.cleanup();
});

test('a clean replay fires nothing; energy shifted by 0.25 reaches the receiver, the table, the topic and the Alerts page', async () => {
  const clean = await replayCsv(s.publisher, { path: SAMPLE, quiet: true });
  await eventuallyStored(p.count, clean.sent);
  // The exporter has computed over the clean events and Prometheus has scraped them.
  const events = await eventually(
    () => promValue('hitstream_feature_window_events'),
    (v) => (v[0] ?? 0) >= 500,
    30_000,
  );
  assert.ok((events[0] ?? 0) >= 500, `events in the window: ${events.join(', ')}`);
  await new Promise((r) => setTimeout(r, 5_000)); // a few evaluations
  assert.deepEqual(
    (await prometheusAlerts()).map((a) => `${a.labels.alertname} ${a.state}`),
    [],
    'a clean replay makes no alert, not even a pending one',
  );

  // The clean events leave the window, then the shifted ones arrive.
  await new Promise((r) => setTimeout(r, WINDOW_SECONDS * 1000));
  const t0 = Date.now();
  const shifted = await streamShiftedSample(40);
  const stored = await eventually(
    async () =>
      (await (await fetch(`${s.base}/alerts?since=1h`)).json()) as {
        active: { alertname: string; labels: Record<string, string>; summary: string }[];
      },
    (b) => b.active.some((a) => a.alertname === 'HitstreamFeatureDrift'),
    180_000,
  ).finally(() => shifted.stop());
  const seconds = (Date.now() - t0) / 1000;
  const drift = stored.active.filter((a) => a.alertname === 'HitstreamFeatureDrift');
  process.stderr.write(
    `alerting test: ${shifted.sent()} shifted events (40/s); HitstreamFeatureDrift reached the receiver after ${seconds.toFixed(0)} s (scrape 1 s, quality every 2 s, group_wait 10 s): ${drift.map((a) => a.summary).join(' | ')}\n`,
  );
  assert.deepEqual(
    drift.map((a) => a.labels.feature),
    ['energy'],
    'only energy drifted',
  );
  assert.equal(
    await p.count(
      "SELECT count() FROM alerts FINAL WHERE alertname = 'HitstreamFeatureDrift' AND status = 'firing'",
    ),
    1,
  );

  // The error estimate before labels rode along: in /drift, and stored per minute for the dashboard.
  const quality = (await (await fetch(`${s.base}/drift?window=30s`)).json()) as {
    models: Record<string, { estimated_rmse: number | null; labelled: { rmse: number | null } }>;
  };
  for (const [m, x] of Object.entries(quality.models))
    assert.ok(
      x.estimated_rmse !== null && x.estimated_rmse > 5 && x.estimated_rmse < 40,
      `${m}: ${x.estimated_rmse}`,
    );
  assert.ok((await p.count('SELECT count() FROM error_estimates FINAL')) > 0, 'estimates are stored');

  // Published to the alerts topic as well.
  const consumer = testKafka(p.cfg).consumer({ groupId: `${p.cfg.consumerGroup}-alerts-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: p.cfg.topicAlerts, fromBeginning: true });
  const published: { alertname: string; labels: Record<string, string> }[] = [];
  await consumer.run({
    eachMessage: ({ message }) => {
      published.push(JSON.parse(message.value!.toString()) as (typeof published)[number]);
      return Promise.resolve();
    },
  });
  await eventually(
    () => Promise.resolve(published.length),
    (n) => n >= 1,
    30_000,
  );
  await consumer.disconnect();
  assert.ok(published.some((a) => a.alertname === 'HitstreamFeatureDrift' && a.labels.feature === 'energy'));

  if (!browser) assert.fail(`${CHROMIUM} is not installed (apt-get install chromium)`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  await page.goto(`${s.base}/alerts.html`);
  await page.waitForSelector('[data-testid=active-alert]', { timeout: 15_000 });
  const text = await page.textContent('#active');
  assert.match(text ?? '', /HitstreamFeatureDrift/);
  assert.match(text ?? '', /energy/);
  await page.waitForSelector('#alert-banner:not([hidden])', { timeout: 15_000 });
  await page.screenshot({ path: join(tmpdir(), 'hitstream-alerts.png'), fullPage: true });
  await page.goto(`${s.base}/live.html`);
  await page.waitForSelector('#alert-banner:not([hidden])', { timeout: 15_000 });
  assert.match((await page.textContent('#alert-banner')) ?? '', /HitstreamFeatureDrift/);
  await page.screenshot({ path: join(tmpdir(), 'hitstream-alert-banner.png') });
  assert.deepEqual(consoleErrors, [], 'no console errors (the favicon included)');
});

test('the receiver refuses a malformed payload with the field named, and stores a repeated alert once', async () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${s.base}/alerts/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const alert = {
    status: 'firing',
    labels: { alertname: 'X', severity: 'warning' },
    annotations: { summary: 's' },
    startsAt: '2026-12-03T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: 'abc',
  };
  const payload = {
    version: '4',
    groupKey: 'g',
    status: 'firing',
    receiver: 'hitstream',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    alerts: [alert],
  };
  const missing = await post({ ...payload, alerts: [{ ...alert, fingerprint: undefined }] });
  assert.equal(missing.status, 400);
  const body = (await missing.json()) as { field: string; message: string };
  assert.match(`${body.field} ${body.message}`, /fingerprint/);
  const badTime = await post({ ...payload, alerts: [{ ...alert, startsAt: 'yesterday' }] });
  assert.equal(badTime.status, 400);
  assert.equal(((await badTime.json()) as { field: string }).field, 'alerts.0.startsAt');
  assert.equal((await post(payload)).status, 200);
  assert.equal((await post(payload)).status, 200, 'a repeat is stored once');
  assert.equal(await p.count("SELECT count() FROM alerts FINAL WHERE fingerprint = 'abc'"), 1);
});

test('with Prometheus and Alertmanager stopped, the API stays ready and says monitoring is degraded', async () => {
  const before = (await (await fetch(`${s.base}/health`)).json()) as { monitoring: { degraded: boolean } };
  assert.equal(before.monitoring.degraded, false);
  await stopMonitoring(monitoring);
  await new Promise((r) => setTimeout(r, 5_500)); // the probe's cache
  const res = await fetch(`${s.base}/health`);
  const body = (await res.json()) as {
    ready: boolean;
    monitoring: { prometheus: boolean; alertmanager: boolean; degraded: boolean };
  };
  assert.equal(res.status, 200);
  assert.equal(body.ready, true);
  assert.deepEqual(body.monitoring, { prometheus: false, alertmanager: false, degraded: true });
});
