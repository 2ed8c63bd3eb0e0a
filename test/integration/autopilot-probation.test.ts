/**
 * The autopilot's probation and restart on the real services. The live version knows one set of
 * genres; the candidate is trained on another, wins on tracks like those, and is promoted; then
 * tracks like the live version's come, the candidate does worse than the version it replaced, and
 * the autopilot rolls back, saying why. On the way the autopilot is killed (SIGKILL) while judging
 * and started again: it resumes its run from the audit trail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Config } from '../../lib/config.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPublisher, type Publisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { readRoles } from '../../registry/role-topic.ts';
import { type Serving, startServing } from '../../registry/serving.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { train } from '../../training/train.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';
import {
  autopilotProcess,
  latestRun,
  renamed,
  sampleParts,
  shadowLoaded as shadowLoadedBy,
} from '../helpers/autopilot.ts';

const PORT = 19298;
const SECRET = 'probation-test-secret';
const log = createLogger('test-probation', process.env.TEST_LOG_LEVEL ?? 'silent');
const dir = mkdtempSync(join(tmpdir(), 'hitstream-probation-test-'));
let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let cfg: Config;
let serving: Serving;
let worker: Worker;
let publisher: Publisher;
let autopilot: ReturnType<typeof autopilotProcess>;

/**
 * The sample in file order (by genre): the first 40 % ("ours", the candidate's genres) and the
 * last 40 % ("theirs", the live version's), each also under new track ids (unseen tracks with the
 * same features).
 */
const splitSample = () => {
  const n = (rows: string[]) => Math.floor(rows.length * 0.4);
  return sampleParts(dir, {
    ours: (rows) => rows.slice(0, n(rows)),
    oursRenamed: (rows) => renamed(rows.slice(0, n(rows)), 'r1'),
    theirs: (rows) => rows.slice(-n(rows)),
    theirsRenamed: (rows) => renamed(rows.slice(-n(rows)), 'r2'),
  });
};

const POLICY = `
trigger: { alerts: [HitstreamErrorAboveTest], firing_for: 1s }
training: { since: 1h, min_labelled_rows: 300, models: [rf, xgb, mlp, tabnet], timeout: 5m }
judging: { window: 10m, min_labelled_events: 100, margin: 0, alpha: 0.05, score: served, check_every: 2s }
mode: auto
guardrails: { cooldown: 1h, probation: 10m }
`;

let files: ReturnType<typeof splitSample>;
let liveVersion: string;

before(async () => {
  files = splitSample();
  p = await isolatedPipeline(2);
  cfg = { ...p.cfg, home: dir, writeIntervalMs: 200, autopilotPort: PORT };
  await ensureTopics(cfg);
  autopilot = autopilotProcess(
    dir,
    // No Alertmanager here: the outcome's notice fails, said in the log; the trail has it.
    { ...p.env, HITSTREAM_AUTOPILOT_SECRET: SECRET, HITSTREAM_ALERTMANAGER_PORT: '19299' },
    PORT,
  );
  // The live version knows "their" genres only.
  const out = join(dir, 'live', 'models');
  await train({
    data: files.theirs,
    models: ['rf', 'xgb', 'mlp', 'tabnet'],
    seed: 5,
    protocols: ['grouped'],
    outDir: out,
    log: () => undefined,
  });
  const lifecycle = createLifecycle(cfg, log);
  liveVersion = (await lifecycle.push(out)).version;
  await lifecycle.promote(liveVersion);
  await lifecycle.close();
  serving = await startServing(cfg, log);
  worker = createWorker(cfg, { serving, metrics: createWorkerMetrics(), log });
  await worker.start();
  publisher = await createPublisher(cfg);
});

after(async () => {
  await autopilot.stop();
  await publisher?.close();
  await worker?.stop();
  await serving?.stop();
  await p.cleanup();
});

const startAutopilot = () => autopilot.start(POLICY);
const runSteps = () => latestRun(cfg);
const shadowLoaded = (version: string) => shadowLoadedBy(serving, version);

test('killed while judging, the autopilot resumes its run; a promoted version that does worse in probation is rolled back', async () => {
  const ours = await replayCsv(publisher, { path: files.ours, quiet: true });
  await eventually(
    () => p.count('SELECT count() FROM track_events FINAL'),
    (n) => n >= ours.sent,
    60_000,
  );
  await startAutopilot();
  const r = await fetch(`http://127.0.0.1:${PORT}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'HitstreamErrorAboveTest' },
          startsAt: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    }),
  });
  assert.equal(r.status, 200);
  const shadowed = await eventually(
    runSteps,
    (s) => s.some((x) => x.step === 'shadowed' || x.state === 'done'),
    240_000,
  );
  const candidate = shadowed.at(-1)!.version;
  assert.equal(
    shadowed.at(-1)!.step,
    'shadowed',
    `${JSON.stringify(shadowed.map((x) => [x.step, x.reason]))}\n${autopilot.state.output}`,
  );

  // Killed while judging, before any event it could judge; started again, it goes on.
  await autopilot.stop('SIGKILL');
  await startAutopilot();
  const resumed = await eventually(runSteps, (s) => s.at(-1)?.step === 'resumed', 30_000);
  assert.equal(resumed.at(-1)!.state, 'judging');
  assert.equal(resumed.at(-1)!.run, shadowed[0]!.run, 'the same run');

  // Tracks like the candidate's (under new ids): it wins, and is promoted.
  await shadowLoaded(candidate);
  await replayCsv(publisher, { path: files.oursRenamed, quiet: true });
  const promoted = await eventually(
    runSteps,
    (s) => s.some((x) => x.step === 'probation' || x.state === 'done'),
    120_000,
  );
  assert.ok(
    promoted.some((x) => x.step === 'probation'),
    `${JSON.stringify(promoted.map((x) => [x.step, x.reason]))}\n${autopilot.state.output}`,
  );
  assert.equal((await readRoles(cfg, log))?.live, candidate);

  // Tracks like the replaced version's: the candidate does worse than it, and is rolled back.
  await shadowLoaded(liveVersion);
  await replayCsv(publisher, { path: files.theirsRenamed, quiet: true });
  const done = await eventually(runSteps, (s) => s.at(-1)?.state === 'done', 120_000);
  const last = done.at(-1)!;
  assert.equal(
    last.step,
    'rolled back',
    `${JSON.stringify(done.map((x) => [x.step, x.reason]))}\n${autopilot.state.output}`,
  );
  assert.match(last.reason, new RegExp(`${candidate} did worse than ${liveVersion} in probation`));
  assert.equal(last.figures.decision, 'better', 'the replaced version is better, by the test');
  const roles = await readRoles(cfg, log);
  assert.deepEqual([roles?.live, roles?.shadow], [liveVersion, null]);
  assert.ok(roles?.retired.includes(candidate), 'the rolled-back version is retired');
  assert.deepEqual(
    done.map((x) => x.step),
    [
      'started',
      'trained',
      'pushed',
      'backfilled',
      'shadowed',
      'resumed',
      'promoted',
      'probation',
      'rolled back',
    ],
  );
});
