/**
 * `npx hitstream autopilot`: reads and checks its policy, resumes an unfinished run from the audit
 * trail, listens for Alertmanager's webhooks, and ticks its loop until SIGTERM.
 */
import type { Config } from '../lib/config.ts';
import { autopilotSecret } from '../lib/autopilot-secret.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { alertmanagerUrlOf } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { requireSchema } from '../infra/migrate.ts';
import { backfill } from '../registry/backfill.ts';
import { judge, servedScore, type Side } from '../registry/judge.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { readRoles } from '../registry/role-topic.ts';
import { createTrail } from '../registry/trail.ts';
import { createAutopilotMetrics } from './metrics.ts';
import { activeAlerts, notifyOutcome } from './notify.ts';
import { type Actions, createPilot } from './pilot.ts';
import { loadPolicy, type Policy } from './policy.ts';
import { buildAutopilotServer } from './server.ts';
import { trainCandidate } from './training-run.ts';

const TICK_MS = 2000;
export const AUTOPILOT = 'autopilot';

/** The outside world of pilot.ts: a child training, the registry, ClickHouse and Alertmanager. */
function realActions(cfg: Config, log: Logger, policy: Policy): Actions & { close(): Promise<void> } {
  const lifecycle = createLifecycle(cfg, log, { by: AUTOPILOT });
  const ch = createClickhouse(cfg, { timeoutMs: 120_000 });
  const trail = createTrail(ch);
  const side = async (version: string): Promise<Side> => {
    const record = await lifecycle.store.get(version);
    const score = policy.judging.score === 'served' && record ? servedScore(record) : policy.judging.score;
    return { version, score: score === 'served' ? 'rf' : score };
  };
  return {
    train: (cut) =>
      trainCandidate(policy, cut, process.env, (line) => log.debug({ training: line }, 'training')),
    push: async (dir) => (await lifecycle.push(dir)).version,
    backfill: (version, from) =>
      backfill(cfg, log, { version, from, to: new Date(Date.now() + 60_000) }).then((r) => ({
        events: r.events,
        seconds: r.seconds,
      })),
    roles: () => readRoles(cfg, log),
    shadow: async (v) => void (await lifecycle.shadow(v)),
    shadowOff: async () => void (await lifecycle.shadowOff()),
    promote: async (v) => void (await lifecycle.promote(v, { force: true })), // the pilot's own test decided
    rollback: async () => void (await lifecycle.rollback()),
    judge: async (incumbent, challenger, since, opts) =>
      judge(ch, { incumbent: await side(incumbent), challenger: await side(challenger) }, since, opts),
    record: (step) => trail.record(step),
    lastRuns: (n) => trail.runs(n),
    notify: (o) => notifyOutcome(alertmanagerUrlOf(cfg), o, log),
    close: async () => {
      await lifecycle.close();
      await ch.close();
    },
  };
}

export async function runAutopilot(cfg: Config, opts: { dryRun?: boolean } = {}): Promise<void> {
  const log = createLogger(AUTOPILOT);
  let policy: Policy;
  try {
    policy = loadPolicy(cfg.autopilotPolicy);
  } catch (err) {
    log.fatal(describeError(err));
    process.exit(2);
  }
  const metrics = createAutopilotMetrics();
  const actions = realActions(cfg, log, policy);
  const pilot = createPilot({ policy, actions, log, metrics, dryRun: opts.dryRun });
  const server = buildAutopilotServer({
    secret: autopilotSecret(cfg),
    onAlerts: (p) => pilot.onAlerts(p),
    status: () => pilot.status(),
    registry: metrics.registry,
  });
  const loop: { timer?: NodeJS.Timeout } = {};
  onShutdownSignal(
    log,
    () => {
      clearInterval(loop.timer);
      log.info('stopping: the run in progress stays in the audit trail and resumes at the next start');
      void server
        .close()
        .then(() => actions.close())
        .finally(() => process.exit(0));
    },
    { backstopMs: cfg.shutdownTimeoutMs },
  );
  try {
    await requireSchema(cfg, {
      waitMs: 150_000,
      onWait: (problem) => log.warn({ problem }, 'waiting for ClickHouse'),
    });
    await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
    if (!opts.dryRun) await pilot.resume();
    const heard = pilot.onAlerts(await activeAlerts(alertmanagerUrlOf(cfg), log));
    if (heard) log.info({ heard }, "alerts of the policy already firing, from Alertmanager's API");
    await server.listen({ host: cfg.autopilotHost, port: cfg.autopilotPort });
  } catch (err) {
    log.fatal(describeError(err));
    await actions.close().catch(() => undefined);
    process.exit(1);
  }
  log.info(
    {
      policy: cfg.autopilotPolicy,
      mode: policy.mode,
      dryRun: Boolean(opts.dryRun),
      alerts: policy.trigger.alerts,
      every: policy.trigger.every ?? null,
      webhook: `http://${cfg.autopilotHost}:${cfg.autopilotPort}/webhook`,
    },
    'autopilot listening',
  );
  let ticking = false;
  loop.timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    pilot
      .tick()
      .catch((err: unknown) =>
        log.error({ problem: describeError(err) }, 'a step failed; it is tried again at the next tick'),
      )
      .finally(() => (ticking = false));
  }, TICK_MS);
}
