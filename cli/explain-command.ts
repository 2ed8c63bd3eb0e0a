/**
 * `hitstream explain '{…}'` (one track, as POST /explain takes it) and `hitstream explain --data
 * CSV`: why each model scores as it does, offline with the set in HITSTREAM_MODELS_DIR (or the
 * shipped one). One track prints each score's base and largest contributions; a CSV becomes one
 * row per track and score with a column per model feature.
 */
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { explainRows } from '../api/explain-view.ts';
import { loadConfig } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { countRows, type KaggleTrack, readKaggleCsv } from '../lib/kaggle-csv.ts';
import { ProgressReporter } from '../lib/progress.ts';
import { type LoadedModels, loadModels } from '../models/model-set.ts';
import type { ExplainResponse } from '../schemas/api.ts';
import { FeatureInput, formatErrors, validate } from '../schemas/index.ts';
import { positiveInteger } from './options.ts';

type Explained = Omit<ExplainResponse, 'version'>;

/** The JSON argument, validated as POST /explain validates its body. */
function parseTrack(json: string): FeatureInput {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new HitstreamError('malformed_json', `the track is not JSON: ${(err as Error).message}`, {
      field: 'track',
    });
  }
  const v = validate(FeatureInput, value);
  if (!v.ok)
    throw new HitstreamError('invalid_request', formatErrors(v.errors), { field: v.errors[0]?.field });
  return v.value;
}

const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;

/** Each score: `score = base + what the features add`, then its largest contributions and the rest. */
export function describeExplanation(e: Explained, top: number): string {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(e.explanations)) {
    const ranked = Object.entries(s.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    const rest = ranked.slice(top).reduce((sum, [, v]) => sum + v, 0);
    lines.push(
      `${name} ${s.score.toFixed(2)}${s.clipped ? ` (clipped from ${s.output.toFixed(2)})` : ''} = base ${s.base.toFixed(2)} ${signed(s.output - s.base)} from the features  [${s.method}]`,
    );
    for (const [feature, v] of ranked.slice(0, top))
      lines.push(
        `    ${signed(v).padStart(7)}  ${feature} = ${+e.inputs[feature]!.toPrecision(6)}${e.feature_kinds[feature] === 'audio' ? '' : ` (${e.feature_kinds[feature]} context)`}`,
      );
    if (ranked.length > top)
      lines.push(`    ${signed(rest).padStart(7)}  the other ${ranked.length - top} features`);
  }
  return `${lines.join('\n')}\n`;
}

async function explainCsv(
  models: LoadedModels,
  path: string,
  out: NodeJS.WritableStream,
  setName: string,
): Promise<number> {
  const features = models.features;
  out.write(`track_id,score_name,method,score,base,output,${features.join(',')}\n`);
  const progress = new ProgressReporter('explain', await countRows(path));
  let rows = 0;
  let bad = 0;
  let batch: KaggleTrack[] = [];
  const flush = async () => {
    const explained = await explainRows(models, batch, setName);
    explained.forEach((e, i) => {
      const id = /[",\n]/.test(batch[i]!.track_id) ? JSON.stringify(batch[i]!.track_id) : batch[i]!.track_id;
      for (const [name, s] of Object.entries(e.explanations))
        out.write(
          `${id},${name},${s.method},${s.score},${s.base.toFixed(6)},${s.output.toFixed(6)},${features.map((f) => s.contributions[f]!.toFixed(6)).join(',')}\n`,
        );
    });
    rows += batch.length;
    progress.update(rows);
    batch = [];
  };
  for await (const r of readKaggleCsv(path)) {
    if (!r.ok) {
      bad++;
      if (bad <= 20) process.stderr.write(`explain: skipped ${r.message}\n`);
      continue;
    }
    batch.push(r.track);
    if (batch.length >= 8) await flush();
  }
  if (batch.length) await flush();
  progress.done(
    `${rows} tracks explained in ${progress.elapsedSeconds().toFixed(1)} s (${((1000 * progress.elapsedSeconds()) / Math.max(1, rows)).toFixed(0)} ms a track)${bad ? `, ${bad} bad rows skipped` : ''}`,
  );
  return bad;
}

export function registerExplainCommand(program: Command): void {
  program
    .command('explain [track]')
    .description(
      'Why each model scores a track as it does: SHAP values per model feature for every score (a track as POST /explain takes it, or --data CSV)',
    )
    .option('--data <path>', 'explain every row of a Kaggle-format CSV (CSV out: a row per track and score)')
    .option('--out <file>', 'with --data: write here (default: stdout)')
    .option('--top <n>', 'contributions shown per score', positiveInteger, 6)
    .option('--json', 'print the POST /explain answer')
    .action(
      async (
        track: string | undefined,
        opts: { data?: string; out?: string; top: number; json?: boolean },
      ) => {
        if (!track === !opts.data)
          throw new HitstreamError('CLI_BAD_OPTION', 'give either a track as JSON or --data CSV', {
            field: 'track',
          });
        const input = track ? parseTrack(track) : undefined;
        const cfg = loadConfig();
        const models = await loadModels(cfg.modelsDir || undefined);
        const setName = `the models in ${cfg.modelsDir || 'models/artifacts'}`;
        if (opts.data) {
          const out = opts.out ? createWriteStream(opts.out) : process.stdout;
          if (await explainCsv(models, opts.data, out, setName)) process.exitCode = 2;
          if (opts.out) await new Promise<void>((r) => out.end(() => r()));
          return;
        }
        const [e] = await explainRows(models, [input!], setName);
        process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : describeExplanation(e!, opts.top));
      },
    );
}
