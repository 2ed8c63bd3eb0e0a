/**
 * The web pages in a real headless Chromium (Debian's, driven by playwright-core): rows arrive on
 * the Live page during a replay, a slider move changes the What-if predictions, the Models page
 * shows all four models. Screenshots go to the temp folder for people to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import type { Publisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { versionOf } from '../../registry/serving.ts';
import { createLabelSink } from '../../labels/sink.ts';
import { createLogger } from '../../lib/logger.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT, testKafka } from '../helpers/services.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
let publisher: Publisher;
let browser: Browser;
let base: string;
let sink: ReturnType<typeof createLabelSink>;

before(async () => {
  if (skip) return;
  p = await isolatedPipeline();
  s = await startScoringApp(p, { feed: true, listen: true });
  ({ publisher, base } = s);
  // The drift panels read the references of the version that scored each row.
  await writeDriftReferences(p.client, versionOf(s.models), s.models);
  sink = createLabelSink(p.cfg, { log: createLogger('test-label-sink', 'warn') });
  await sink.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
after(async () => {
  if (skip) return;
  await browser.close();
  await sink.stop();
  await s.stop();
  await p.cleanup();
});

const shot = (name: string) => join(tmpdir(), `hitstream-${name}.png`);

test('Live page: rows and charts arrive during a replay', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/live.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected');
  await new Promise((r) => setTimeout(r, 1500)); // the feed consumer starts at the end of the topic
  const replay = replayCsv(publisher, {
    path: 'data/spotify_tracks_sample.csv',
    limit: 300,
    rate: 150,
    quiet: true,
  });
  await page.waitForSelector('[data-testid=feed-row]', { timeout: 30_000 });
  await replay;
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=feed-row]').length >= 20,
    undefined,
    { timeout: 30_000 },
  );
  assert.ok(Number(await page.textContent('#count')) > 0);
  assert.ok((await page.locator('#hists svg rect').count()) > 0, 'histograms drawn');
  // The drift card (refreshed every 10 s): the live version's line, with its error on the labels.
  await page.waitForFunction(
    () => /RMSE \d/.test(document.querySelector('.version-drift')?.textContent ?? ''),
    undefined,
    {
      timeout: 30_000,
    },
  );
  assert.match((await page.textContent('.version-drift')) ?? '', /^live \d{8}-/);
  assert.ok((await page.locator('[data-testid=throughput] polyline').count()) === 1, 'throughput drawn');
  await page.screenshot({ path: shot('live'), fullPage: true });
  // A track's name leads to its stored predictions, drawn.
  await page.click('[data-testid=feed-row] a');
  await page.waitForSelector('[data-testid=track-row]', { timeout: 15_000 });
  assert.ok(
    (await page.locator('[data-testid=track-row]').count()) >= SCORES_PER_EVENT,
    'a row per score of the event',
  );
  assert.equal((await page.locator('#chart canvas').count()) > 0, true, 'its scores charted');
  // Why each model scored it: a waterfall per score, the top features and the rest.
  await page.waitForSelector('[data-testid=why-rf] rect', { timeout: 30_000 });
  assert.equal(await page.locator('[data-testid^=why-]').count(), SCORES_PER_EVENT);
  assert.match((await page.textContent('#why-note')) ?? '', /the one that scored it/);
  await page.screenshot({ path: shot('track'), fullPage: true });
  await page.close();
});

test(
  'Live page: a label posted to the API lands in its table, and the page logs no error',
  { skip },
  async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/live.html`);
    const res = await s.app.inject({
      method: 'POST',
      url: '/labels',
      payload: { track_id: 'label-landing-test', popularity: 61, label_time: '2026-12-01T10:00:00Z' },
    });
    assert.equal(res.statusCode, 202, res.body);
    await page.waitForSelector('[data-testid=label-row]', { timeout: 30_000 });
    const row = (await page.textContent('[data-testid=label-row]')) ?? '';
    assert.match(row, /label-landing-test/);
    assert.match(row, /every event.*61/);
    await page.screenshot({ path: shot('live-labels'), fullPage: true });
    await page.close();
    assert.deepEqual(errors, []);
  },
);

test('What-if page: moving a slider changes the predictions', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/whatif.html`);
  await page.waitForSelector('[data-testid=score-xgb]');
  const before = await page.textContent('[data-testid=score-xgb]');
  const scores = async () =>
    Promise.all(['rf', 'xgb', 'mlp', 'tabnet'].map((m) => page.textContent(`[data-testid=score-${m}]`)));
  const first = await scores();
  await page.locator('[data-testid=slider-acousticness]').fill('0.95');
  await page.locator('[data-testid=slider-loudness]').fill('-30');
  await page.waitForFunction(
    (b) => document.querySelector('[data-testid=score-xgb]')?.textContent !== b,
    before,
    { timeout: 10_000 },
  );
  const second = await scores();
  assert.notDeepEqual(second, first);
  assert.ok((await page.locator('#mask rect').count()) >= 15, 'TabNet mask bars');
  // Why: the Random Forest's waterfall, every feature in it; the energy slider moves energy's bar.
  const explainedEnergy = (energy: number) =>
    page.waitForFunction(
      (want) => {
        const inputs = (document.getElementById('why') as HTMLElement).dataset.inputs;
        return (
          inputs !== undefined && Math.abs((JSON.parse(inputs) as { energy: number }).energy - want) < 1e-6
        );
      },
      energy,
      { timeout: 15_000 },
    );
  const energyBar = () => page.getAttribute('[data-testid=wf-rf-energy]', 'data-value');
  await page.locator('[data-testid=slider-energy]').fill('0.95');
  await explainedEnergy(0.95);
  const loud = Number(await energyBar());
  assert.equal(await page.locator('#why rect').count(), 22, 'a bar per model feature');
  await page.locator('[data-testid=slider-energy]').fill('0.05');
  await explainedEnergy(0.05);
  const quiet = Number(await energyBar());
  assert.notEqual(quiet, loud, `energy's bar moved with its slider (${loud} → ${quiet})`);
  await page.click('[data-testid=why-tab-tabnet]');
  await page.waitForSelector('[data-testid=why-tabnet]');
  assert.equal(await page.locator('#why rect').count(), 22);
  await page.screenshot({ path: shot('whatif'), fullPage: true });
  await page.close();
});

test(
  'Models page: every model with metrics and importance charts, and the ensemble row when one ships',
  { skip },
  async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    await page.goto(`${base}/models.html`);
    await page.waitForSelector('[data-testid=model-row]');
    assert.equal(await page.locator('[data-testid=model-row]').count(), SCORES_PER_EVENT);
    if (SCORES_PER_EVENT === 5)
      assert.match(
        await page.locator('[data-testid=model-row]').last().innerText(),
        /Ensemble[\s\S]*× Random Forest/,
      );
    // Importance is the four models' own: the ensemble has none.
    assert.equal(await page.locator('#importance .card').count(), 4);
    await page.screenshot({ path: shot('models'), fullPage: true });
    // Each card's title above its chart at a phone's width, a laptop's and a wide screen's (a short
    // title once sat at the bottom, on the chart's baseline, where the two fitted on one line).
    for (const width of [390, 1280, 1600]) {
      await page.setViewportSize({ width, height: 1200 });
      const cards = await page.locator('#importance .card').evaluateAll((els) =>
        els.map((c) => {
          const title = c.firstElementChild!.getBoundingClientRect();
          const chart = c.querySelector('svg')!.getBoundingClientRect();
          return { name: c.firstElementChild!.textContent, above: title.bottom <= chart.top };
        }),
      );
      assert.equal(cards.length, 4);
      assert.deepEqual(
        cards.filter((c) => !c.above),
        [],
        `at ${width} px, titles not above their chart`,
      );
    }
    await page.close();
    process.stderr.write(
      `screenshots: ${['live', 'track', 'whatif', 'models', 'dashboards', 'dashboards-drift'].map(shot).join(', ')}\n`,
    );
  },
);

test(
  'Dashboards page: every panel of both dashboards drawn from the API with uPlot, a failing query shows its error',
  { skip },
  async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const scripts: string[] = [];
    page.on('request', (r) => scripts.push(r.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // One panel's query fails, as when ClickHouse goes away: the panel says so, the others draw.
    await page.route(
      (url) => url.pathname === '/dashboards/panels/hitstream-pipeline.4',
      (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({
            code: 'storage_unavailable',
            message: 'ClickHouse at http://x did not answer',
          }),
        }),
    );
    // Two poison messages, so the dead-letter panels have rows too.
    const producer = testKafka(p.cfg).producer();
    await producer.connect();
    await producer.send({ topic: p.cfg.topicTracks, messages: [{ value: '{"not": json' }, { value: '' }] });
    await producer.disconnect();
    await eventually(
      () => p.count('SELECT count() FROM dead_letters'),
      (c) => c >= 2,
      60_000,
    );
    await page.goto(`${base}/dashboards.html`);
    await page.waitForFunction(
      () => !document.querySelector('.panel-body')?.textContent?.includes('loading'),
      undefined,
      {
        timeout: 30_000,
      },
    );
    await page.waitForFunction(
      () => [...document.querySelectorAll('.panel-body')].every((b) => !b.textContent?.includes('loading…')),
      undefined,
      {
        timeout: 30_000,
      },
    );
    assert.deepEqual(pageErrors, [], 'no script errors');
    const errors = await page.locator('[data-testid=panel-error]').allTextContents();
    assert.deepEqual(
      errors,
      ['ClickHouse at http://x did not answer'],
      'only the failing panel shows an error',
    );
    // Every panel with a query drew data; the consumer-lag panel is a Prometheus query (a note).
    const empty = await page
      .locator('[data-testid=panel]', { hasText: /no data in this range|no rows in this range/ })
      .locator('b')
      .allTextContents();
    assert.deepEqual(empty, [], 'panels without data');
    const panels = await page.locator('[data-testid=panel]').count();
    assert.ok(panels >= 14, `${panels} panels`);
    assert.ok((await page.locator('.uplot canvas').count()) >= 5, 'time series drawn by uPlot');
    assert.ok((await page.locator('.heat-cell').count()) > 0, 'PSI heat map drawn');
    assert.ok((await page.locator('.panel svg rect').count()) > 0, 'score distributions drawn');
    assert.ok(
      scripts.every((u) => u.startsWith(base)),
      `nothing from a CDN: ${scripts.filter((u) => !u.startsWith(base)).join(', ')}`,
    );
    await page.screenshot({ path: shot('dashboards'), fullPage: true });
    await page.close();
  },
);

test(
  'Dashboards page: a stream with energy shifted by +0.25 marks both feature PSI panels with energy, and only energy',
  { skip },
  async () => {
    // Two one-minute slices of the whole sample, 20 and 10 minutes ago: as it is, then with energy
    // shifted. Opened on each minute through the page's link range (?from=&to=, epoch ms, as Grafana's).
    const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv');
    const minute = (ago: number) => Math.floor((Date.now() - ago * 60_000) / 60_000) * 60_000;
    const [asIs, shifted] = [minute(20), minute(10)];
    const at = (ms: number) => new Date(ms + 20_000).toISOString();
    const before = await p.count('SELECT count() FROM track_events FINAL');
    const events = [
      ...tracks.map((t) => ({ ...trackEventFromCsv(t, at(asIs)), source: 'test' as const })),
      ...tracks.map((t) => ({
        ...trackEventFromCsv(t, at(shifted)),
        source: 'test' as const,
        energy: Math.min(1, t.energy + 0.25),
      })),
    ];
    for (let i = 0; i < events.length; i += 500) await publisher.publish(events.slice(i, i + 500));
    await eventually(
      () => p.count('SELECT count() FROM track_events FINAL'),
      (c) => c >= before + events.length,
      120_000,
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const featurePanels = page.locator('[data-testid=panel]', { hasText: /PSI per feature|PSI heat map/ });
    const open = async (fromMs: number) => {
      await page.goto(`${base}/dashboards.html?from=${fromMs}&to=${fromMs + 60_000}`);
      await page.waitForFunction(
        () =>
          document.querySelectorAll('.panel-body').length > 0 &&
          [...document.querySelectorAll('.panel-body')].every((b) => !b.textContent?.includes('loading…')),
        undefined,
        { timeout: 30_000 },
      );
      assert.equal(await featurePanels.count(), 2);
      return {
        alerts: await featurePanels.locator('[data-testid=panel-alert]').allTextContents(),
        marked: await featurePanels.evaluateAll((els) => els.map((e) => e.classList.contains('alert'))),
      };
    };
    const calm = await open(asIs);
    assert.deepEqual(
      calm,
      { alerts: ['', ''], marked: [false, false] },
      'the unshifted minute crosses nothing',
    );
    const drifted = await open(shifted);
    assert.deepEqual(drifted, { alerts: ['≥ 0.2: energy', '≥ 0.2: energy'], marked: [true, true] });
    assert.ok(
      (await page.locator('.heat-cell[title^="energy"]').count()) > 0,
      'the heat map has an energy row',
    );
    await page.screenshot({ path: shot('dashboards-drift'), fullPage: true });
    await page.close();
  },
);
