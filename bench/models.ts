/**
 * `hitstream bench models`: per-model inference µs/row at batch 1, 8 and 256, side by side. Two
 * models also run the other way they can: the Random Forest through ml-random-forest's predictor
 * on the same trees (`rf_ml_random_forest`; `rf` is the compact scorer that serves), and TabNet
 * with every batch in TensorFlow.js (`tabnet_tensorflow_only`; `tabnet` takes batches of up to
 * 16 rows in plain JavaScript). Batch 8 is what a worker sees at ~1,000 events/s.
 */
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { type LoadedModels, loadModels } from '../models/model-set.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/index.ts';

const BATCHES = [1, 8, 256] as const;
/** Rows scored per model at each batch size (batch 1: 256 calls). */
const ROWS_PER_SIZE = 2048;

type Timing = Record<`batch${(typeof BATCHES)[number]}_us`, number>;

export async function benchModels(opts: { data: string; modelsDir?: string; json?: boolean }) {
  const models = await loadModels(opts.modelsDir);
  const { tracks } = await loadKaggleCsv(opts.data, { limit: ROWS_PER_SIZE });
  const rows = tracks.slice(0, ROWS_PER_SIZE);
  const perModel: Record<string, Timing> = {};
  const time = async (m: LoadedModels, names: Record<string, ModelName>) => {
    // Warm up every model (JIT, wasm) at every size before timing.
    for (const size of BATCHES) for (let i = 0; i < 8; i++) await m.predictBatch(rows.slice(0, size));
    for (const k of Object.keys(names)) perModel[k] = { batch1_us: 0, batch8_us: 0, batch256_us: 0 };
    for (const size of BATCHES) {
      const calls = Math.min(256, Math.floor(rows.length / size));
      for (let c = 0; c < calls; c++) {
        const p = await m.predictBatch(rows.slice(c * size, (c + 1) * size));
        for (const [k, name] of Object.entries(names))
          perModel[k]![`batch${size}_us`] += p.inferenceUs[name] / calls;
      }
    }
  };
  await time(models, Object.fromEntries(MODEL_NAMES.map((m) => [m, m])));
  await time(
    await loadModels(opts.modelsDir, { rfPredictor: 'ml-random-forest', tabnetPass: 'tensorflow' }),
    {
      rf_ml_random_forest: 'rf',
      tabnet_tensorflow_only: 'tabnet',
    },
  );
  const result = { load_seconds: models.loadSeconds, models: perModel };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else printTable(models.loadSeconds, perModel);
  return result;
}

function printTable(loadSeconds: number, perModel: Record<string, Timing>): void {
  const out = [`models loaded in ${loadSeconds.toFixed(2)} s`];
  out.push(
    `${'model'.padEnd(24)}${BATCHES.map((b) => `µs/row batch ${b}`.padStart(19)).join('')}   ratio 1/256`,
  );
  for (const [m, r] of Object.entries(perModel))
    out.push(
      `${m.padEnd(24)}${BATCHES.map((b) => r[`batch${b}_us`].toFixed(1).padStart(19)).join('')}${`${(r.batch1_us / r.batch256_us).toFixed(1)}x`.padStart(14)}`,
    );
  process.stdout.write(`${out.join('\n')}\n`);
}
