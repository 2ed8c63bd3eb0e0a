/**
 * `hitstream bench models`: per-model inference µs/row at batch 1 and 256, side by side; the
 * Random Forest both ways (`rf`: the compact scorer that serves, `rf_ml_random_forest`: that
 * package's predictor on the same trees).
 */
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { type LoadedModels, loadModels } from '../models/model-set.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/index.ts';

export async function benchModels(opts: { data: string; modelsDir?: string; json?: boolean }) {
  const models = await loadModels(opts.modelsDir);
  const { tracks } = await loadKaggleCsv(opts.data, { limit: 4096 });
  const rows = tracks.slice(0, 2048);
  const perModel: Record<string, { batch1_us: number; batch256_us: number }> = {};
  const time = async (m: LoadedModels, names: Record<string, ModelName>) => {
    // Warm up every model (JIT, wasm) before timing.
    await m.predictBatch(rows.slice(0, 256));
    for (const k of Object.keys(names)) perModel[k] = { batch1_us: 0, batch256_us: 0 };
    const single = 300;
    for (let i = 0; i < single; i++) {
      const p = await m.predictBatch([rows[i]!]);
      for (const [k, name] of Object.entries(names)) perModel[k]!.batch1_us += p.inferenceUs[name] / single;
    }
    const batches = Math.floor(rows.length / 256);
    for (let b = 0; b < batches; b++) {
      const p = await m.predictBatch(rows.slice(b * 256, (b + 1) * 256));
      for (const [k, name] of Object.entries(names))
        perModel[k]!.batch256_us += p.inferenceUs[name] / batches;
    }
  };
  await time(models, Object.fromEntries(MODEL_NAMES.map((m) => [m, m])));
  await time(await loadModels(opts.modelsDir, { rfPredictor: 'ml-random-forest' }), {
    rf_ml_random_forest: 'rf',
  });
  const result = { load_seconds: models.loadSeconds, models: perModel };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `models loaded in ${models.loadSeconds.toFixed(2)} s\nmodel                µs/row batch 1   µs/row batch 256   ratio\n`,
    );
    for (const [m, r] of Object.entries(perModel)) {
      process.stdout.write(
        `${m.padEnd(20)} ${r.batch1_us.toFixed(1).padStart(14)} ${r.batch256_us.toFixed(1).padStart(18)} ${(r.batch1_us / r.batch256_us).toFixed(1).padStart(7)}x\n`,
      );
    }
  }
  return result;
}
