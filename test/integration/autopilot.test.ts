/**
 * The autopilot against the real services: a live version that is bad on purpose (trained on 60
 * tracks), a worker following the roles, the autopilot as its own process, and an alert sent
 * through a real Alertmanager to its webhook. It retrains from the stored labelled events,
 * backfills, shadows, decides by the sequential test on fresh events, promotes, keeps the version
 * after probation, and says so through Alertmanager; the error on new labelled events drops, and
 * every step is in the audit trail. A webhook call without the secret gets 401 and starts nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { buildApp } from '../../api/app.ts';
import { FeedHub } from '../../api/feed/hub.ts';
import type { Config } from '../../lib/config.ts';
import { autopilotSecret } from '../../lib/autopilot-secret.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { startAlertmanager, stopMonitoring } from '../../infra/stack/monitoring-native.ts';
import { createPublisher, type Publisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { readRoles } from '../../registry/role-topic.ts';
import { type Serving, startServing } from '../../registry/serving.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { train } from '../../training/train.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';
import { autopilotProcess, latestRun, renamed, sampleParts, shadowLoaded } from '../helpers/autopilot.ts';

const ALERTMANAGER_PORT = 19197;
const AUTOPILOT_PORT = 19098;
const log = createLogger('test-autopilot', process.env.TEST_LOG_LEVEL ?? 'silent');
const dir = mkdtempSync(join(tmpdir(), 'hitstream-autopilot-test-'));
let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let cfg: Config;
let serving: Serving;
let worker: Worker;
let publisher: Publisher;
let autopilot: ReturnType<typeof autopilotProcess>;
let api: Awaited<ReturnType<typeof buildApp>> | undefined;

/**
 * The sample in file order (which is by genre): history (50 %) is what the first candidate trains
 * on, fresh (30 %) arrives after it, later (20 %) is new to every version until test 3; renamed
 * is fresh under new track ids, for a candidate that learned every track stored so far.
 */
const splitSample = () =>
  sampleParts(dir, {
    tiny: (rows) => rows.slice(0, 60),
    history: (rows) => rows.slice(0, Math.floor(rows.length * 0.5)),
    fresh: (rows) => rows.slice(Math.floor(rows.length * 0.5), Math.floor(rows.length * 0.8)),
    later: (rows) => rows.slice(Math.floor(rows.length * 0.8)),
    renamed: (rows) =>
      renamed(rows.slice(Math.floor(rows.length * 0.5), Math.floor(rows.length * 0.8)), 'renamed'),
  });

const POLICY = `
trigger: { alerts: [HitstreamFeatureDrift], firing_for: 1m }
training: { since: 1h, min_labelled_rows: 500, models: [rf, xgb, mlp, tabnet], timeout: 5m }
judging: { window: 10m, min_labelled_events: 100, margin: 0, alpha: 0.05, score: served, check_every: 2s }
mode: auto
guardrails: { cooldown: 1h, probation: 30s }
`;

const OTHER_TRIGGER = POLICY.replace('alerts: [HitstreamFeatureDrift]', 'alerts: [HitstreamModelsDisagree]');

let files: ReturnType<typeof splitSample>;
let badVersion: string;

before(async () => {
  files = splitSample();
  p = await isolatedPipeline(2);
  cfg = {
    ...p.cfg,
    home: dir,
    writeIntervalMs: 200,
    alertmanagerPort: ALERTMANAGER_PORT,
    autopilotPort: AUTOPILOT_PORT,
    apiPort: 19099,
  };
  await ensureTopics(cfg);
  autopilot = autopilotProcess(
    dir,
    { ...p.env, HITSTREAM_ALERTMANAGER_PORT: String(ALERTMANAGER_PORT), HITSTREAM_WRITE_INTERVAL_MS: '200' },
    AUTOPILOT_PORT,
  );
  // The bad live version: every model trained on 60 tracks.
  await train({
    data: files.tiny,
    models: ['rf', 'xgb', 'mlp', 'tabnet'],
    seed: 3,
    protocols: ['grouped'],
    outDir: join(dir, 'bad', 'models'),
    minRows: 10,
    log: () => undefined,
  });
  const lifecycle = createLifecycle(cfg, log);
  badVersion = (await lifecycle.push(join(dir, 'bad', 'models'))).version;
  await lifecycle.promote(badVersion);
  await lifecycle.close();
  serving = await startServing(cfg, log);
  worker = createWorker(cfg, { serving, metrics: createWorkerMetrics(), log });
  await worker.start();
  publisher = await createPublisher(cfg);
  await startAlertmanager(cfg, () => undefined);
  // The API on the port Alertmanager's hitstream receiver calls: the Models page, approvals.
  api = await buildApp({
    cfg,
    serving,
    publisher,
    clickhouse: p.client,
    hub: new FeedHub(),
    feedReady: () => true,
  });
  await api.listen({ host: '127.0.0.1', port: cfg.apiPort });
});

after(async () => {
  await stopAutopilot();
  await api?.close();
  await stopMonitoring(cfg).catch(() => undefined);
  await publisher?.close();
  await worker?.stop();
  await serving?.stop();
  await p.cleanup();
});

const webhook = `http://127.0.0.1:${AUTOPILOT_PORT}/webhook`;

async function replayed(path: string) {
  const r = await replayCsv(publisher, { path, quiet: true });
  return r.sent;
}

const stopAutopilot = () => autopilot.stop();
const startAutopilot = (text = POLICY) => autopilot.start(text);

const runSteps = () => latestRun(cfg);

/** RMSE of the live scores of `version`'s served score on the events with labels. */
async function liveRmse(version: string, score: string): Promise<{ n: number; rmse: number }> {
  const [r] = await (
    await p.client.query({
      query: `SELECT count() AS n, sqrt(avg(pow(score - popularity, 2))) AS rmse FROM predictions FINAL WHERE model = '${score}' AND model_version = '${score}-${version}' AND isNotNull(popularity)`,
      format: 'JSONEachRow',
    })
  ).json<{ n: string; rmse: number }>();
  return { n: Number(r?.n ?? 0), rmse: Number(r?.rmse) };
}

test('a webhook call without the secret gets 401 and starts nothing', async () => {
  await startAutopilot();
  const body = JSON.stringify({
    alerts: [
      { status: 'firing', labels: { alertname: 'HitstreamFeatureDrift' }, startsAt: '2020-01-01T00:00:00Z' },
    ],
  });
  for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
    const r = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /Authorization: Bearer SECRET/);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const status = (await (await fetch(`http://127.0.0.1:${AUTOPILOT_PORT}/status`)).json()) as {
    run?: unknown;
    firing: unknown[];
  };
  assert.equal(status.run, undefined);
  assert.deepEqual(status.firing, []);
  assert.deepEqual(await runSteps(), []);
});

test('from an alert through Alertmanager to a better version, promoted and kept; every step audited', async () => {
  const history = await replayed(files.history);
  await eventually(
    () => p.count('SELECT count() FROM track_events FINAL'),
    (n) => n >= history,
    60_000,
  );

  // The drift alert, as Prometheus would send it, into the real Alertmanager; its route calls the
  // autopilot's webhook with the shared secret (credentials_file, written by the stack).
  const t0 = performance.now();
  const startsAt = new Date(Date.now() - 5 * 60_000).toISOString();
  const sent = await fetch(`http://127.0.0.1:${ALERTMANAGER_PORT}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      {
        labels: {
          alertname: 'HitstreamFeatureDrift',
          severity: 'warning',
          feature: 'energy',
          version: badVersion,
        },
        startsAt,
      },
    ]),
  });
  assert.equal(sent.status, 200);
  const shadowed = await eventually(
    runSteps,
    (s) => s.some((x) => x.step === 'shadowed' || x.state === 'done'),
    240_000,
  );
  assert.ok(
    shadowed.some((x) => x.step === 'shadowed'),
    `${JSON.stringify(shadowed, null, 1)}\n${autopilot.state.output}`,
  );
  const candidate = shadowed.at(-1)!.version;
  assert.match(
    shadowed[0]!.reason,
    /HitstreamFeatureDrift \(version=\S+, feature=energy\) firing for 1m or more/,
  );
  const toShadow = (performance.now() - t0) / 1000;

  // Fresh events, never trained on: live (bad) and the candidate score each; the test decides.
  // (The worker loads the shadow within seconds; events before that are the backfill's.)
  await shadowLoaded(serving, candidate);
  const fresh = await replayed(files.fresh);
  const promoted = await eventually(
    runSteps,
    (s) => s.some((x) => x.step === 'probation' || x.state === 'done'),
    120_000,
  );
  const decision = promoted.find((x) => x.step === 'promoted');
  assert.ok(
    decision,
    `${JSON.stringify(
      promoted.map((x) => [x.step, x.reason]),
      null,
      1,
    )}`,
  );
  assert.equal(decision.figures.decision, 'better');
  assert.ok(Number(decision.figures.events) >= 100 && Number(decision.figures.events) <= fresh);
  const roles = await readRoles(cfg, log);
  assert.equal(roles?.live, candidate);
  assert.equal(roles?.shadow, badVersion, 'probation: the replaced version is shadowed');

  // Probation: the same fresh tracks again, scored by the new live version and the old as shadow.
  await shadowLoaded(serving, badVersion);
  await replayed(files.fresh);
  const done = await eventually(runSteps, (s) => s.at(-1)?.state === 'done', 180_000);
  const steps = done.map((x) => x.step);
  assert.deepEqual(steps, [
    'started',
    'trained',
    'pushed',
    'backfilled',
    'shadowed',
    'promoted',
    'probation',
    'promoted',
  ]);
  assert.ok(done.every((x) => x.by === 'autopilot'));
  assert.match(done.at(-1)!.reason, new RegExp(`${candidate} kept after probation`));
  assert.ok(Number(done.at(-1)!.figures.events) > 0, 'probation judged the events scored by both');
  assert.notEqual(done.at(-1)!.figures.decision, 'better', 'the replaced version was not better');
  const after = await readRoles(cfg, log);
  assert.deepEqual([after?.live, after?.shadow], [candidate, null]);

  // The error on new labelled events dropped: the same fresh tracks, scored before and after.
  const score = String(decision.figures.score_challenger);
  const before = await liveRmse(badVersion, String(decision.figures.score_live));
  const now = await liveRmse(candidate, score);
  assert.ok(now.n >= fresh && before.n >= fresh, `${now.n} / ${before.n}`);
  assert.ok(
    now.rmse < before.rmse,
    `RMSE on fresh labelled events: ${before.rmse} before, ${now.rmse} after`,
  );

  // The role changes the autopilot made are in the role audit trail, by `autopilot`.
  const changes = await (
    await p.client.query({
      query: `SELECT action FROM model_role_changes WHERE by = 'autopilot' ORDER BY seq`,
      format: 'JSONEachRow',
    })
  ).json<{ action: string }>();
  assert.deepEqual(
    changes.map((c) => c.action),
    [`shadow ${candidate}`, `promote ${candidate}`, `shadow ${badVersion}`, `shadow off (${badVersion})`],
  );

  // The outcome went through Alertmanager at severity info.
  const run = done[0]!.run;
  const alerts = await eventually(
    () =>
      fetch(
        `http://127.0.0.1:${ALERTMANAGER_PORT}/api/v2/alerts?filter=alertname%3D%22HitstreamAutopilotRun%22`,
      ).then((r) => r.json() as Promise<{ labels: Record<string, string> }[]>),
    (a) => a.some((x) => x.labels.run === run),
    20_000,
  );
  const outcome = alerts.find((x) => x.labels.run === run)!;
  assert.deepEqual(
    [outcome.labels.severity, outcome.labels.outcome, outcome.labels.version],
    ['info', 'promoted', candidate],
  );

  // What a person reads: `autopilot status`.
  const status = spawn(process.execPath, ['bin/hitstream.js', 'autopilot', 'status'], {
    env: {
      ...p.env,
      HITSTREAM_HOME: dir,
      HITSTREAM_AUTOPILOT_POLICY: join(dir, 'policy.yml'),
      HITSTREAM_AUTOPILOT_PORT: String(AUTOPILOT_PORT),
    },
  });
  let text = '';
  status.stdout.on('data', (b: Buffer) => (text += b.toString()));
  status.stderr.on('data', (b: Buffer) => (text += b.toString()));
  assert.equal(await new Promise((r) => status.once('exit', r)), 0, text);
  assert.match(text, new RegExp(`run ${run}: promoted, candidate ${candidate}`));
  assert.match(text, /autopilot: answering at/);
  process.stderr.write(
    `autopilot test: alert -> shadowed ${toShadow.toFixed(0)} s (${done.find((x) => x.step === 'trained')!.figures.seconds as number | string} s training); decided at event ${decision.figures.decided_at as number}; RMSE on fresh events ${before.rmse.toFixed(2)} -> ${now.rmse.toFixed(2)}\n`,
  );
  // The secret is what Alertmanager sent: the file the stack wrote.
  assert.ok(autopilotSecret(cfg).length >= 32);

  // Restarted, the autopilot asks Alertmanager what fires now: the drift alert is heard at once
  // (and starts nothing: the cooldown holds).
  await startAutopilot();
  const heard = (await (await fetch(`http://127.0.0.1:${AUTOPILOT_PORT}/status`)).json()) as {
    firing: { alert: string }[];
    run?: unknown;
  };
  assert.deepEqual(
    heard.firing.map((f) => f.alert),
    ['HitstreamFeatureDrift'],
  );
  assert.equal(heard.run, undefined);
});

/**
 * Sends an alert to the autopilot's webhook as Alertmanager does, with the shared secret. Another
 * alert than test 2's: that one may still be active in Alertmanager, which a restarted autopilot
 * asks.
 */
async function alert(status: 'firing' | 'resolved') {
  const r = await fetch(webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${autopilotSecret(cfg)}` },
    body: JSON.stringify({
      alerts: [
        {
          status,
          fingerprint: 'drift',
          labels: { alertname: 'HitstreamModelsDisagree', version: 'any' },
          startsAt: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    }),
  });
  assert.equal(r.status, 200);
}

/** A new run from an alert: waits for it to shadow its candidate, then resolves the alert. */
async function newRunShadowed(previous: string) {
  await alert('firing');
  const steps = await eventually(
    runSteps,
    (s) => s[0]?.run !== previous && s.some((x) => x.step === 'shadowed' || x.state === 'done'),
    240_000,
  );
  await alert('resolved');
  assert.ok(
    steps.some((x) => x.step === 'shadowed'),
    `${JSON.stringify(steps, null, 1)}\n${autopilot.state.output}`,
  );
  const candidate = steps.at(-1)!.version;
  await shadowLoaded(serving, candidate);
  return { run: steps[0]!.run, candidate };
}

test('a candidate that is not better by the margin is retired, with the figures of the test', async () => {
  const live = (await readRoles(cfg, log))!.live;
  const previous = (await runSteps())[0]?.run ?? '';
  await startAutopilot(
    OTHER_TRIGGER.replace('margin: 0,', 'margin: 0.5,').replace('cooldown: 1h', 'cooldown: 1s'),
  );
  const { run, candidate } = await newRunShadowed(previous);
  // Tracks of genres neither version trained on: the candidate cannot halve the MSE.
  await replayed(files.later);
  const done = await eventually(runSteps, (s) => s[0]?.run === run && s.at(-1)?.state === 'done', 180_000);
  const last = done.at(-1)!;
  assert.equal(
    last.step,
    'retired',
    `${JSON.stringify(
      done.map((x) => [x.step, x.reason]),
      null,
      1,
    )}\n${autopilot.state.output}`,
  );
  assert.equal(last.figures.decision, 'not better');
  assert.equal(last.figures.margin, 0.5);
  assert.ok(Number(last.figures.events) >= 100);
  assert.match(last.reason, new RegExp(`${candidate} is not better by the margin`));
  const roles = await readRoles(cfg, log);
  assert.deepEqual(
    [roles?.live, roles?.shadow],
    [live, null],
    'live untouched, the candidate no longer shadowed',
  );
});

test('approve mode: nothing is promoted until a person approves on the Models page; then probation', async () => {
  const live = (await readRoles(cfg, log))!.live;
  const previous = (await runSteps())[0]?.run ?? '';
  await startAutopilot(
    OTHER_TRIGGER.replace('mode: auto', 'mode: approve').replace('cooldown: 1h', 'cooldown: 1s'),
  );
  const { run, candidate } = await newRunShadowed(previous);
  // Tracks under ids it never saw (the same features it trained on: this test is about approval).
  await replayed(files.renamed);
  const waiting = await eventually(
    runSteps,
    (s) => s[0]?.run === run && s.at(-1)?.state !== 'judging',
    120_000,
  );
  assert.equal(
    waiting.at(-1)!.step,
    'awaiting approval',
    JSON.stringify(waiting.map((x) => [x.step, x.reason])),
  );
  await new Promise((r) => setTimeout(r, 5000)); // a few checks later: still waiting
  assert.equal((await readRoles(cfg, log))?.live, live, 'not promoted without approval');
  assert.equal((await runSteps()).at(-1)!.step, 'awaiting approval');

  const base = `http://127.0.0.1:${cfg.apiPort}`;
  if (existsSync('/usr/bin/chromium')) {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      await page.goto(`${base}/models.html`);
      const button = page.locator('[data-testid=approve]');
      await button.waitFor();
      assert.match(await button.innerText(), new RegExp(`Approve ${candidate}`));
      await button.click();
      await page.locator('[data-testid=approve-answer]').waitFor();
      assert.match(
        await page.locator('[data-testid=approve-answer]').innerText(),
        new RegExp(`Promoted: live ${candidate}`),
      );
      await page.screenshot({ path: join(tmpdir(), 'hitstream-models-autopilot.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no console errors');
    } finally {
      await browser.close();
    }
  } else {
    // No browser here: the page's own call.
    const r = await fetch(`${base}/models/${candidate}/promote`, { method: 'POST' });
    assert.equal(r.status, 200, await r.text());
  }
  const done = await eventually(runSteps, (s) => s[0]?.run === run && s.at(-1)?.state === 'done', 120_000);
  const approved = done.find((x) => x.step === 'approved');
  assert.equal(approved?.by, 'models page (API)');
  assert.equal(done.at(-1)!.step, 'promoted', JSON.stringify(done.map((x) => [x.step, x.reason])));
  assert.equal((await readRoles(cfg, log))?.live, candidate);
  // The runs, newest first, as the page reads them.
  const runs = (await (await fetch(`${base}/autopilot/runs?limit=5`)).json()) as {
    runs: { run: string; outcome: string }[];
  };
  assert.deepEqual(
    runs.runs.slice(0, 3).map((r) => r.outcome),
    ['promoted', 'retired', 'promoted'],
  );
  await stopAutopilot();
});
