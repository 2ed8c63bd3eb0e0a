/**
 * `hitstream models …`: the registry and the roles. Every change is published on the role topic
 * (workers and API processes swap within seconds) and written to the audit trail.
 */
import type { Command } from 'commander';
import { parseWindow } from '../api/routes/drift.ts';
import { loadConfig } from '../lib/config.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { HitstreamError } from '../lib/errors.ts';
import { backfill } from '../registry/backfill.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import type { RoleState } from '../registry/roles.ts';
import { describeTest } from '../registry/sequential-test.ts';

const say = (m: string) => process.stderr.write(`models: ${m}\n`);
const rolesLine = (s: RoleState) =>
  `live ${s.live}, shadow ${s.shadow ?? 'none'} (change ${s.seq}: ${s.action}, by ${s.by})`;

/** Runs `fn` with the registry open (topics ensured), closing it after. */
async function withLifecycle<T>(fn: (l: ReturnType<typeof createLifecycle>) => Promise<T>): Promise<T> {
  const cfg = loadConfig();
  await ensureTopics(cfg);
  const lifecycle = createLifecycle(cfg, createLogger('models', 'warn'));
  try {
    return await fn(lifecycle);
  } finally {
    await lifecycle.close();
  }
}

/** `2026-12-01T10:00:00Z`, or a window back from now: `90s`, `15m`, `2h`, `1d`. */
function parseTime(flag: string, value: string): Date {
  if (/^\d+[smhd]$/.test(value)) return new Date(Date.now() - parseWindow(value) * 1000);
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new HitstreamError(
      'CLI_BAD_OPTION',
      `${flag}: not a time: ${JSON.stringify(value)} (ISO 8601, or 90s/15m/2h/1d ago)`,
      {
        field: flag,
      },
    );
  return new Date(t);
}

export function registerModelsCommand(program: Command): void {
  const models = program
    .command('models')
    .description('Model versions and their roles: list, push, promote, shadow, rollback, compare, backfill');
  registerBackfillCommand(models);

  models
    .command('list')
    .description(
      'Every version in the registry with its role, RMSE per model and who pushed it; the latest role changes',
    )
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) =>
      withLifecycle(async (l) => {
        const { state, versions } = await l.list();
        const history = await l.store.roleChanges(10);
        if (opts.json)
          return void process.stdout.write(
            `${JSON.stringify({ roles: state ?? null, versions, history }, null, 2)}\n`,
          );
        if (!versions.length) say('the registry is empty: `models push` a trained folder (or run `up`)');
        for (const v of versions)
          process.stdout.write(
            `${v.role.padEnd(9)} ${v.version}  rmse ${Object.entries(v.metrics)
              .map(([m, r]) => `${m} ${r.toFixed(2)}`)
              .join(' ')}  pushed ${v.pushed_at} by ${v.pushed_by}\n`,
          );
        if (state) process.stdout.write(`\nroles: ${rolesLine(state)}\n`);
        if (history.length) process.stdout.write('\nrecent role changes:\n');
        for (const h of history)
          process.stdout.write(`  ${h.at}  ${h.action}${Number(h.forced) ? ' (forced)' : ''}  by ${h.by}\n`);
      }),
    );

  models
    .command('push')
    .description(
      'Upload a trained folder (the four models of one `train` run) as a version; checksums are kept',
    )
    .option('--dir <dir>', 'folder with rf/ xgb/ mlp/ tabnet/', ARTIFACTS_DIR)
    .action((opts: { dir: string }) =>
      withLifecycle(async (l) => {
        const r = await l.push(opts.dir, (done, total) =>
          process.stderr.write(`\rmodels: pushing file ${done}/${total}`),
        );
        process.stderr.write('\n');
        say(
          `pushed ${r.version}: ${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB; it is a candidate (promote or shadow it)`,
        );
      }),
    );

  models
    .command('promote <version>')
    .description(
      'Make a version live; refused unless the sequential test on labelled events shows it better than live',
    )
    .option('--force', 'promote even if it is worse, or was never scored beside live')
    .option('--window <w>', 'labelled events of this window (90s, 15m, 2h, 1d)', '1h')
    .action((version: string, opts: { force?: boolean; window: string }) =>
      withLifecycle(async (l) => {
        const s = await l.promote(version, { force: opts.force, windowSeconds: parseWindow(opts.window) });
        say(`${rolesLine(s)}; workers and API processes swap within seconds`);
      }),
    );

  models
    .command('shadow [version]')
    .description('Score every event with this version too, stored beside the live scores; --off stops it')
    .option('--off', 'stop shadow scoring')
    .action((version: string | undefined, opts: { off?: boolean }) =>
      withLifecycle(async (l) => {
        if (!opts.off && !version) throw new Error('give a VERSION, or --off');
        const s = opts.off ? await l.shadowOff() : await l.shadow(version!);
        say(rolesLine(s));
      }),
    );

  models
    .command('rollback')
    .description('Go back to the previous live version (the current one is retired)')
    .action(() =>
      withLifecycle(async (l) => {
        say(rolesLine(await l.rollback()));
      }),
    );

  models
    .command('compare')
    .description(
      'Live vs shadow per model on labelled events: n, RMSE, MAE, bias, disagreement, p99 inference time',
    )
    .option('--window <w>', 'labelled events of this window (90s, 15m, 2h, 1d)', '1h')
    .option('--version <v>', 'compare this version instead of the current shadow (e.g. after a backfill)')
    .option('--json', 'as JSON')
    .action((opts: { window: string; version?: string; json?: boolean }) =>
      withLifecycle(async (l) => {
        const c = await l.compare(parseWindow(opts.window), opts.version);
        if (opts.json)
          return void process.stdout.write(
            `${JSON.stringify({ live: c.live, shadow: c.shadow, models: c.rows, test: c.test ?? null }, null, 2)}\n`,
          );
        process.stdout.write(
          `${c.rows.length ? c.table : `no labelled events scored by both ${c.live} and ${c.shadow} in the window`}\n`,
        );
        if (c.test)
          process.stdout.write(
            `${c.shadow} (${c.test.challenger.score}) against live ${c.live} (${c.test.incumbent.score}): ${describeTest(c.test, { challenger: 'shadow', incumbent: 'live' })}; \`models promote\` needs "better"\n`,
          );
      }),
    );
}

export function registerBackfillCommand(models: Command): void {
  models
    .command('backfill <version>')
    .description(
      'Score the stored events of a time range with a version, as shadow rows (reads track_events; Kafka is not touched)',
    )
    .requiredOption('--from <time>', 'ISO 8601, or how long ago: 90s, 15m, 2h, 1d')
    .option('--to <time>', 'ISO 8601, or how long ago (default: now)')
    .action(async (version: string, opts: { from: string; to?: string }) => {
      const cfg = loadConfig();
      const from = parseTime('--from', opts.from);
      const to = opts.to ? parseTime('--to', opts.to) : new Date();
      let last = 0;
      const r = await backfill(cfg, createLogger('backfill', 'warn'), {
        version,
        from,
        to,
        onProgress: ({ done, total, eventsPerSecond }) => {
          if (Date.now() - last < 1000 && done < total) return;
          last = Date.now();
          const eta = eventsPerSecond ? Math.ceil((total - done) / eventsPerSecond) : 0;
          say(
            `backfill: ${done.toLocaleString('en')}/${total.toLocaleString('en')} events ${((100 * done) / Math.max(1, total)).toFixed(0)}%, ${Math.round(eventsPerSecond).toLocaleString('en')} events/s, ETA ${eta} s`,
          );
        },
      });
      say(
        `backfilled ${r.events.toLocaleString('en')} events (${r.rows.toLocaleString('en')} shadow rows) with ${version} in ${r.seconds.toFixed(1)} s, ${Math.round(r.eventsPerSecond).toLocaleString('en')} events/s; \`models compare --version ${version}\` judges it`,
      );
    });
}
