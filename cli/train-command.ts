import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { HitstreamError } from '../lib/errors.ts';
import type { Protocol } from '../training/results.ts';
import { predictCsv } from '../models/predict-csv.ts';
import { ARTIFACTS_DIR, loadModels } from '../models/model-set.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { train } from '../training/train.ts';
import { parseSince, type TrainingSource } from '../training/source.ts';
import { loadConfig } from '../lib/config.ts';
import { bestSingleModel } from '../training/report.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/prediction.ts';

function parseList<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (bad.length || !items.length)
    throw new HitstreamError(
      'CLI_BAD_OPTION',
      `${flag}: unknown ${bad.join(', ') || '(empty)'}; choose from ${allowed.join(', ')}`,
      { field: flag },
    );
  return items as T[];
}

/** `train --push`: the folder just written becomes a candidate version, its report with it. */
async function pushCandidate(dir: string): Promise<void> {
  const cfg = loadConfig();
  await ensureTopics(cfg);
  const lifecycle = createLifecycle(cfg, createLogger('models', 'warn'));
  try {
    const r = await lifecycle.push(dir, undefined, { reportFile: join(dir, '..', 'report.json') });
    process.stderr.write(
      `train: pushed ${r.version} (${r.files} files with report.json, ${(r.bytes / 1e6).toFixed(1)} MB) as a candidate: \`npx hitstream models compare\`, \`backfill\`, \`promote\` take it from here\n`,
    );
  } finally {
    await lifecycle.close();
  }
}

/** An ISO 8601 time (with its zone), or an error naming the option. */
function parseTime(option: string, text: string): Date {
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) || Number.isNaN(t))
    throw new HitstreamError(
      'CLI_BAD_OPTION',
      `${option}: expected an ISO 8601 time like 2026-12-03T18:00:00Z, got ${JSON.stringify(text)}`,
      {
        field: option,
      },
    );
  return new Date(t);
}

/** `--from` and its companions as a training source, each mistake naming its option. */
function trainingSource(opts: {
  from: string;
  data?: string;
  since?: string;
  labelsBefore?: string;
}): TrainingSource {
  const from = parseList('--from', opts.from, ['csv', 'clickhouse', 'jsonl'] as const)[0]!;
  if (opts.since !== undefined && from !== 'clickhouse')
    throw new HitstreamError('CLI_BAD_OPTION', '--since applies to --from clickhouse only', {
      field: '--since',
    });
  if (opts.labelsBefore !== undefined && from !== 'clickhouse')
    throw new HitstreamError('CLI_BAD_OPTION', '--labels-before applies to --from clickhouse only', {
      field: '--labels-before',
    });
  if (from === 'clickhouse') {
    if (opts.since !== undefined) parseSince(opts.since); // a bad value fails before any work
    return {
      kind: 'clickhouse',
      cfg: loadConfig(),
      since: opts.since,
      ...(opts.labelsBefore !== undefined
        ? { labelsBefore: parseTime('--labels-before', opts.labelsBefore) }
        : {}),
    };
  }
  if (!opts.data)
    throw new HitstreamError('CLI_BAD_OPTION', `--data: required with --from ${from} (a Kaggle-format CSV)`, {
      field: '--data',
    });
  return { kind: from, path: opts.data };
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'Train the four models on a Kaggle-format CSV or on the labelled events stored in ClickHouse; write models/artifacts/ and models/REPORT.md',
    )
    .option('--data <path>', 'CSV in the Kaggle Spotify Tracks format (with --from csv)')
    .option(
      '--from <source>',
      'csv (--data) or clickhouse (the labelled track_events, CLICKHOUSE_URL)',
      'csv',
    )
    .option('--since <duration>', 'with --from clickhouse: only events of the last 30d, 12h, 90m …')
    .option(
      '--labels-before <time>',
      "with --from clickhouse: only labels and events that had arrived by this ISO 8601 time (default: the run's start; the report names it, so a run can be read again)",
    )
    .option('--min-rows <n>', 'stop unless at least this many labelled rows are found', '50')
    .option('--no-refit', 'ship the evaluated split fit instead of refitting on every row')
    .option(
      '--push',
      'register the trained models, with their report, as a candidate version in the registry',
    )
    .option('--models <list>', `comma-separated subset of ${MODEL_NAMES.join(',')}`, MODEL_NAMES.join(','))
    .option('--seed <n>', 'seed for splits and training', '42')
    .option(
      '--protocols <list>',
      'seed (original: random rows, 14 features), grouped (deployed: by track, with genre)',
      'seed,grouped',
    )
    .option('--out <dir>', 'where the model folders go (default models/artifacts)')
    .option(
      '--jobs <n>',
      '2 trains the two protocols side by side (one child process); 1 one after the other',
      String(Math.min(2, availableParallelism())),
    )
    .action(
      async (opts: {
        models: string;
        seed: string;
        protocols: string;
        out?: string;
        jobs: string;
        data?: string;
        from: string;
        since?: string;
        labelsBefore?: string;
        minRows: string;
        refit: boolean;
        push?: boolean;
      }) => {
        const seed = Number(opts.seed);
        if (!Number.isInteger(seed))
          throw new HitstreamError('CLI_BAD_OPTION', `--seed must be an integer, got ${opts.seed}`, {
            field: '--seed',
          });
        const protocols = parseList<Protocol>('--protocols', opts.protocols, ['seed', 'grouped']);
        const jobs = Number(opts.jobs);
        if (!Number.isInteger(jobs) || jobs < 1)
          throw new HitstreamError('CLI_BAD_OPTION', `--jobs must be a whole number ≥ 1, got ${opts.jobs}`, {
            field: '--jobs',
          });
        const minRows = Number(opts.minRows);
        if (!Number.isInteger(minRows) || minRows < 1)
          throw new HitstreamError(
            'CLI_BAD_OPTION',
            `--min-rows must be a whole number ≥ 1, got ${opts.minRows}`,
            {
              field: '--min-rows',
            },
          );
        const t0 = performance.now();
        const report = await train({
          source: trainingSource(opts),
          minRows,
          refit: opts.refit,
          models: parseList<ModelName>('--models', opts.models, MODEL_NAMES),
          seed,
          // grouped last: it writes the artifacts, whose manifests also carry the seed-protocol metrics.
          protocols: (['seed', 'grouped'] as const).filter((p) => protocols.includes(p)),
          outDir: opts.out,
          jobs,
          log: (line) => process.stderr.write(`train: ${line}\n`),
        });
        const secs = (performance.now() - t0) / 1000;
        process.stderr.write(
          `train: done in ${(secs / 60).toFixed(1)} min; report in ${opts.out ? `${opts.out}/..` : 'models'}/REPORT.md\n`,
        );
        if (opts.push) await pushCandidate(opts.out ?? ARTIFACTS_DIR);
        for (const [p, s] of Object.entries(report.protocols)) {
          for (const m of MODEL_NAMES)
            if (s?.[m])
              process.stdout.write(
                `${p.padEnd(8)} ${m.padEnd(7)} RMSE ${s[m].metrics.rmse.toFixed(3)}  MAE ${s[m].metrics.mae.toFixed(3)}  R2 ${s[m].metrics.r2.toFixed(4)}  ${s[m].trainSeconds.toFixed(0)} s\n`,
              );
          const e = s?.ensemble?.metrics;
          const best = s && bestSingleModel(s);
          if (e)
            process.stdout.write(
              `${p.padEnd(8)} ${'ensemble'} RMSE ${e.rmse.toFixed(3)}  MAE ${e.mae.toFixed(3)}  R2 ${e.r2.toFixed(4)}  (${best && e.rmse < best.rmse ? 'published: beats ' : 'not published: '}${best?.model} ${best?.rmse.toFixed(3)})\n`,
            );
        }
      },
    );
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'Score a Kaggle-format CSV offline with all four models and the ensemble when one ships (CSV out; metrics when it has popularity)',
    )
    .requiredOption('--data <path>', 'CSV in the Kaggle Spotify Tracks format')
    .option('--out <file>', 'write the scores here (default: stdout)')
    .action(async (opts: { data: string; out?: string }) => {
      const cfg = loadConfig();
      const models = await loadModels(cfg.modelsDir || undefined, { rfPredictor: cfg.rfPredictor });
      const r = await predictCsv(models, opts.data, opts.out ?? process.stdout);
      for (const b of r.badRows.slice(0, 20)) process.stderr.write(`predict: skipped ${b.message}\n`);
      if (r.badRows.length > 20)
        process.stderr.write(`predict: … and ${r.badRows.length - 20} more bad rows\n`);
      for (const [m, e] of Object.entries(r.metrics ?? {}))
        process.stderr.write(
          `predict: ${m.padEnd(8)} RMSE ${e.rmse.toFixed(3)}  MAE ${e.mae.toFixed(3)}  R2 ${e.r2.toFixed(4)}\n`,
        );
      if (r.badRows.length) process.exitCode = 2;
    });
}
