/** `hitstream alerts calibrate`: the tunable rules' thresholds from stored history. */
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { calibrateRule, type RuleCalibration } from '../alerts/calibrate.ts';
import { ruleHistory } from '../alerts/history.ts';
import { alertRules, readThresholds, THRESHOLDS_FILE, type Thresholds } from '../alerts/rules.ts';
import { writeGenerated } from '../dashboards/generate.ts';
import { reloadPrometheus } from '../infra/stack/monitoring-native.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { loadConfig } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { duration, positiveInteger } from './options.ts';

const say = (m: string) => process.stderr.write(`alerts: ${m}\n`);
const LABELS: Record<string, string | undefined> = {
  HitstreamFeatureDrift: 'feature',
  HitstreamScoreDrift: 'model',
  HitstreamErrorAboveTest: 'model',
  HitstreamEstimatedErrorRising: 'model',
};

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be 0 or more.');
  return n;
}

const fmt = (t: number | undefined) => (t === undefined ? '–' : String(t));

function report(c: RuleCalibration): string {
  const lines = [
    `${c.rule}: ${c.windows} windows judged; fired ${c.before.alarms}× (${c.before.minutes} min) with the old thresholds, ${c.after.alarms}× (${c.after.minutes} min) with the new`,
  ];
  for (const k of c.keys)
    lines.push(
      `  ${(k.key || '(version)').padEnd(17)} ${fmt(c.old.per?.values[k.key] ?? c.old.threshold).padStart(8)} → ${fmt(k.threshold).padEnd(8)} ` +
        `alarms ${k.before.alarms} → ${k.after.alarms}, minutes firing ${k.before.minutes} → ${k.after.minutes}${k.windows ? '' : ' (no window with enough events: kept)'}`,
    );
  return lines.join('\n');
}

export function registerAlertsCommand(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('The alert rules: calibrate their thresholds on history');
  alerts
    .command('calibrate')
    .description(
      'Replay each tunable rule over the stored history, window by window; pick thresholds that meet the false-alarm budget; write them into alerts/thresholds.json and regenerate the Prometheus and Grafana rules',
    )
    .option('--history <window>', 'how much history to read (e.g. 7d, 36h)', duration, 7 * 86400)
    .option('--false-alarms-per-week <n>', 'alarms each rule may raise per week of history', nonNegative, 1)
    .option(
      '--headroom <fraction>',
      'margin above the lowest threshold that meets the budget',
      nonNegative,
      0.25,
    )
    // A day: calibrated on 23 windows of an hour, thresholds fired 3 times in the next 23 (the
    // windows overlap, so a short history holds few independent ones; alert-history.test.ts).
    .option(
      '--min-windows <n>',
      'windows with enough events a rule needs to be calibrated (a day of minutes)',
      positiveInteger,
      1440,
    )
    .option('--dry-run', 'print the new thresholds, write nothing')
    .action(
      async (opts: {
        history: number;
        falseAlarmsPerWeek: number;
        headroom: number;
        minWindows: number;
        dryRun?: boolean;
      }) => {
        const cfg = loadConfig();
        const client = createClickhouse(cfg);
        const t0 = performance.now();
        try {
          say(
            `reading ${opts.history / 3600} h of history in windows of ${cfg.qualityWindowSeconds / 60} min (HITSTREAM_QUALITY_WINDOW_SECONDS), one a minute`,
          );
          const history = await ruleHistory(client, opts.history, cfg.qualityWindowSeconds);
          const weeks = history.minutes / (7 * 1440);
          const allowed = Math.floor(opts.falseAlarmsPerWeek * weeks);
          const thresholds: Thresholds = readThresholds();
          const rules = new Map(alertRules(thresholds).map((r) => [r.name, r]));
          const results: RuleCalibration[] = [];
          const kept: string[] = [];
          for (const [name, windows] of Object.entries(history.windows)) {
            const old = thresholds[name]!;
            const judged = new Map<string, number>();
            for (const w of windows)
              if (w.n >= old.min_events) judged.set(w.key, (judged.get(w.key) ?? 0) + 1);
            const most = Math.max(0, ...judged.values());
            if (most < opts.minWindows) {
              kept.push(
                `${name}: ${most} windows with ≥ ${old.min_events} events in the history, ${opts.minWindows} needed (--min-windows): kept ${old.threshold}`,
              );
              continue;
            }
            results.push(
              calibrateRule({
                rule: name,
                windows,
                old,
                forDuration: rules.get(name)!.for,
                allowedAlarms: allowed,
                headroom: opts.headroom,
                label: LABELS[name],
                at: new Date(),
                history: `${opts.history / 3600}h`,
                falseAlarmsPerWeek: opts.falseAlarmsPerWeek,
              }),
            );
          }
          if (!results.length)
            throw new HitstreamError(
              'not_enough_history',
              `too little history to calibrate: ${history.minutes} minutes of events for version ${history.version || '(none)'}; each rule needs ${opts.minWindows} windows of ${cfg.qualityWindowSeconds / 60} min with enough events (${(opts.minWindows + cfg.qualityWindowSeconds / 60 - 1).toFixed(0)} min of steady traffic at least).\n${kept.join('\n')}`,
              { field: '--history' },
            );
          say(
            `version ${history.version}: ${history.minutes} minutes of history (${weeks.toFixed(3)} weeks); budget ${opts.falseAlarmsPerWeek} false alarms a week → ${allowed} alarm${allowed === 1 ? '' : 's'} allowed per rule; headroom ${opts.headroom * 100}%`,
          );
          for (const r of results) process.stdout.write(`${report(r)}\n`);
          for (const k of kept) say(k);
          if (opts.dryRun) {
            say('dry run: nothing written');
            return;
          }
          for (const r of results) thresholds[r.rule] = r.next;
          writeFileSync(THRESHOLDS_FILE, `${JSON.stringify(thresholds, null, 2)}\n`);
          const written = await writeGenerated();
          const reloaded = await reloadPrometheus(cfg);
          say(
            `wrote alerts/thresholds.json and ${written.join(', ') || 'no generated file (unchanged)'}; ${reloaded ? 'the running Prometheus reloaded its rules' : 'no Prometheus answered to reload (it reads the rules at its next start)'}; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          );
        } finally {
          await client.close();
        }
      },
    );
}
