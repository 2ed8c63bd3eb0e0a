/**
 * `hitstream bench autopilot`: from an alert to a promoted better version, and what a training
 * run costs the scorers. On a stack of its own: a live version that is bad on purpose (trained on
 * 60 tracks), half of the data file stored as labelled history, then
 *   1. a quiet phase: events scored at --rate, p99 event → predictions topic and worker CPU;
 *   2. the alert to the autopilot (a process, as deployed), whose training runs while the same
 *      rate is scored: the same figures, and their ratio to the quiet phase's;
 *   3. the other half of the file as fresh events: the test decides, the candidate is promoted,
 *      and probation keeps it. Each step's time is printed, from the audit trail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { createPublisher, type Publisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { createTrail, type Step } from '../registry/trail.ts';
import {
  BIN,
  cpuFigures,
  freePort,
  type IsolatedStack,
  say,
  waitFor,
  withIsolatedStack,
} from './isolated-stack.ts';
import { csvParts } from './csv-parts.ts';
import { startLatencyProbe } from './latency-probe.ts';
import { printResult, quantile } from './report.ts';

interface AutopilotBenchOptions {
  data: string;
  workers: number;
  rate: number;
  seconds: number;
  json?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const POLICY = `
trigger: { alerts: [HitstreamFeatureDrift], firing_for: 1s }
training: { since: 1h, min_labelled_rows: 500, models: [rf, xgb, mlp, tabnet], timeout: 30m }
judging: { window: 30m, min_labelled_events: 200, margin: 0, alpha: 0.05, score: served, check_every: 2s }
mode: auto
guardrails: { cooldown: 1h, probation: 20s }
`;

/** The data file in three parts: 60 tracks (the bad version's), history and fresh halves. */
const splitData = (path: string, dir: string) =>
  csvParts(path, dir, {
    tiny: (rows) => rows.slice(0, 60),
    history: (rows) => rows.slice(0, Math.floor(rows.length / 2)),
    fresh: (rows) => rows.slice(Math.floor(rows.length / 2)),
  });

/** Runs a `hitstream` command to its end; rejects with its output on failure. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args[0]} exited ${code}: ${err.slice(-800)}`)),
    );
  });
}

/** The bad live version: every model trained on 60 tracks, pushed and promoted. */
async function badLiveVersion(stack: IsolatedStack, tiny: string, dir: string) {
  const out = join(dir, 'bad', 'models');
  await run(
    ['train', '--data', tiny, '--out', out, '--protocols', 'grouped', '--jobs', '1', '--min-rows', '10'],
    stack.env,
  );
  const lifecycle = createLifecycle(stack.cfg, createLogger('bench', 'warn'));
  try {
    const { version } = await lifecycle.push(out);
    await lifecycle.promote(version, { force: true });
    return version;
  } finally {
    await lifecycle.close();
  }
}

export async function benchAutopilot(base: Config, opts: AutopilotBenchOptions) {
  return withIsolatedStack(base, opts.workers, async (stack) => {
    const dir = mkdtempSync(join(tmpdir(), 'hitstream-bench-autopilot-'));
    const files = splitData(opts.data, dir);
    const ch = createClickhouse(stack.cfg);
    const trail = createTrail(ch);
    const publisher = await createPublisher(stack.cfg, 'bench');
    const probe = await startLatencyProbe(stack.cfg, `${stack.cfg.consumerGroup}-probe`);
    let autopilot: ChildProcess | undefined;
    try {
      say('training the bad live version (60 tracks)');
      const bad = await badLiveVersion(stack, files.tiny, dir);
      await sleep(5000); // the workers swap to it
      const history = await replayCsv(publisher, { path: files.history, quiet: true });
      say(`${history.sent} labelled events stored as history; warm-up, then the quiet phase`);
      await replayCsv(publisher, {
        path: files.history,
        rate: opts.rate,
        limit: opts.rate * 5,
        loop: true,
        quiet: true,
      });
      await sleep(2000);
      const quiet = await scoringPhase(stack, publisher, probe, files.history, opts, async () =>
        sleep(opts.seconds * 1000),
      );

      const port = await freePort();
      const secret = randomBytes(16).toString('hex');
      writeFileSync(join(dir, 'policy.yml'), POLICY);
      autopilot = spawn(process.execPath, [BIN, 'autopilot'], {
        env: {
          ...stack.env,
          HITSTREAM_AUTOPILOT_POLICY: join(dir, 'policy.yml'),
          HITSTREAM_AUTOPILOT_PORT: String(port),
          HITSTREAM_AUTOPILOT_SECRET: secret,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitFor(`http://127.0.0.1:${port}/health`);
      const alertAt = Date.now();
      await alert(port, secret);
      say('alert sent; scoring while the autopilot trains');
      const steps = () => trail.runs(1).then((r) => r[0] ?? []);
      const training = await scoringPhase(stack, publisher, probe, files.history, opts, async () => {
        while (!(await steps()).some((s) => s.step === 'trained' || s.state === 'done')) await sleep(500);
      });
      const shadowed = await until(steps, (s) => s.some((x) => x.step === 'shadowed' || x.state === 'done'));
      if (!shadowed.some((s) => s.step === 'shadowed'))
        throw new Error(`the run ended early: ${shadowed.at(-1)?.reason}`);
      await sleep(5000); // the workers load the shadow
      say('fresh events: the test decides');
      await replayCsv(publisher, { path: files.fresh, rate: opts.rate, quiet: true });
      const decided = await until(steps, (s) => s.some((x) => x.step === 'probation' || x.state === 'done'));
      if (decided.some((s) => s.step === 'probation')) {
        await sleep(5000);
        await replayCsv(publisher, { path: files.fresh, rate: opts.rate, quiet: true });
      }
      const done = await until(steps, (s) => s.at(-1)?.state === 'done');
      const result = {
        workers: opts.workers,
        rate: opts.rate,
        live_before: bad,
        outcome: done.at(-1)!.step,
        candidate: done.at(-1)!.version,
        ...stepTimes(done, alertAt),
        decided_at_event: done.find((s) => s.figures.decided_at)?.figures.decided_at ?? null,
        quiet,
        while_training: training,
        p99_ratio_training_quiet: Math.round((training.p99_ms / quiet.p99_ms) * 100) / 100,
        events_per_second_ratio:
          Math.round((training.events_per_second / quiet.events_per_second) * 100) / 100,
      };
      printResult(result, opts.json);
      return result;
    } finally {
      autopilot?.kill('SIGTERM');
      await probe.stop();
      await publisher.close();
      await ch.close();
    }
  });
}

async function alert(port: number, secret: string) {
  const r = await fetch(`http://127.0.0.1:${port}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'HitstreamFeatureDrift' },
          startsAt: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    }),
  });
  if (!r.ok) throw new Error(`the autopilot's webhook answered ${r.status}`);
}

async function until(read: () => Promise<Step[]>, done: (s: Step[]) => boolean, timeoutMs = 30 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await read();
    if (done(s) || Date.now() > deadline) return s;
    await sleep(500);
  }
}

/** Seconds from the alert to each step, and the total to the promotion. */
function stepTimes(steps: Step[], alertAt: number) {
  const at = (name: string) => steps.find((s) => s.step === name)?.at;
  const secs = (iso: string | undefined) => (iso ? Math.round((Date.parse(iso) - alertAt) / 100) / 10 : null);
  say(steps.map((s) => `+${secs(s.at)} s ${s.step}: ${s.reason}`).join('\n       '));
  return {
    s_alert_to_started: secs(at('started')),
    s_alert_to_trained: secs(at('trained')),
    s_training: steps.find((s) => s.step === 'trained')?.figures.seconds ?? null,
    s_alert_to_pushed: secs(at('pushed')),
    s_alert_to_backfilled: secs(at('backfilled')),
    s_alert_to_shadowed: secs(at('shadowed')),
    s_alert_to_promoted: secs(steps.find((s) => s.step === 'promoted')?.at),
    s_alert_to_outcome: secs(steps.at(-1)?.at),
  };
}

/** Scores --rate events/s until `during` ends: p50/p99 to the predictions topic, rate, worker CPU. */
async function scoringPhase(
  stack: IsolatedStack,
  publisher: Publisher,
  probe: Awaited<ReturnType<typeof startLatencyProbe>>,
  data: string,
  opts: AutopilotBenchOptions,
  during: () => Promise<unknown>,
) {
  probe.samples.length = 0;
  probe.measure(true);
  const window = stack.cpuWindow();
  const t0 = performance.now();
  let stop = false;
  let sent = 0;
  const replay = (async () => {
    while (!stop)
      sent += (await replayCsv(publisher, { path: data, rate: opts.rate, limit: opts.rate, quiet: true }))
        .sent;
  })();
  await during();
  stop = true;
  await replay;
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1500);
  probe.measure(false);
  const lat = probe.samples.map((x) => x.toTopicMs).sort((a, b) => a - b);
  const out = {
    seconds: Math.round(seconds),
    events: sent,
    events_per_second: Math.round(sent / seconds),
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    ...cpuFigures(window(sent)),
  };
  say(`${out.seconds} s: ${out.events_per_second} events/s, p99 ${out.p99_ms} ms`);
  return out;
}
