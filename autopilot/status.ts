/**
 * `npx hitstream autopilot status`: the policy, whether an autopilot answers, the run in progress
 * and the last runs with each step's time, read from the audit trail (so it works from any
 * machine with the ClickHouse settings, the autopilot running or not).
 */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { delay } from '../registry/compare.ts';
import { createTrail, type Step } from '../registry/trail.ts';
import { loadPolicy, type Policy } from './policy.ts';

const since = (a: string, b: string) => delay((Date.parse(b) - Date.parse(a)) / 1000);

/** One run: its head line, then each step with the time since the one before. */
export function describeRun(steps: Step[]): string[] {
  const first = steps[0]!;
  const last = steps.at(-1)!;
  const outcome = last.state === 'done' ? last.step : `in progress (${last.state})`;
  const head = `run ${first.run}: ${outcome}${last.version ? `, candidate ${last.version}` : ''}, ${since(first.at, last.at)} from start to its last step`;
  return [
    head,
    ...steps.map(
      (s, i) =>
        `  ${s.at.slice(0, 19).replace('T', ' ')}Z  +${i ? since(steps[i - 1]!.at, s.at) : '0 s'}  ${s.step.padEnd(17)} ${s.by === 'autopilot' ? '' : `(by ${s.by}) `}${s.reason}`,
    ),
  ];
}

const describePolicy = (p: Policy, path: string) =>
  [
    `policy ${path}: mode ${p.mode}`,
    `  trigger: ${p.trigger.alerts.length ? `${p.trigger.alerts.join(', ')} firing for ${p.trigger.firing_for}` : 'no alerts'}${p.trigger.every ? `; every ${p.trigger.every}` : ''}`,
    `  training: last ${p.training.since}, at least ${p.training.min_labelled_rows} labelled rows, ${p.training.models.join(', ')}, timeout ${p.training.timeout}`,
    `  judging: score ${p.judging.score}, margin ${p.judging.margin * 100} % of MSE, α ${p.judging.alpha}, at least ${p.judging.min_labelled_events} events, window ${p.judging.window}`,
    `  guardrails: cooldown ${p.guardrails.cooldown}, probation ${p.guardrails.probation}`,
  ].join('\n');

export async function autopilotStatus(cfg: Config, opts: { runs: number; json?: boolean }): Promise<string> {
  const policy = loadPolicy(cfg.autopilotPolicy);
  const url = `http://${cfg.autopilotHost === '0.0.0.0' ? '127.0.0.1' : cfg.autopilotHost}:${cfg.autopilotPort}`;
  const live = (await fetch(`${url}/status`, { signal: AbortSignal.timeout(2000) })
    .then((r) => (r.ok ? r.json() : undefined))
    .catch(() => undefined)) as
    { run?: unknown; firing?: { alert: string; since: string }[]; dryRun?: boolean } | undefined;
  const ch = createClickhouse(cfg);
  try {
    const runs = await createTrail(ch).runs(opts.runs);
    if (opts.json) return JSON.stringify({ policy, process: live ?? null, runs }, null, 2);
    const process = live
      ? `autopilot: answering at ${url}${live.dryRun ? ' (dry run)' : ''}; alerts firing: ${live.firing?.map((f) => `${f.alert} since ${f.since}`).join(', ') || 'none'}`
      : `autopilot: not answering at ${url} (HITSTREAM_AUTOPILOT_PORT); \`npx hitstream autopilot\` starts one`;
    const body = runs.length ? runs.flatMap(describeRun).join('\n') : 'no runs yet';
    return `${describePolicy(policy, cfg.autopilotPolicy)}\n${process}\n\n${body}`;
  } finally {
    await ch.close();
  }
}
