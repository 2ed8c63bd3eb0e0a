/** `hitstream bench models`: per-model inference µs/row at batch 1 and 256, side by side. */
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { loadModels } from '../models/registry.ts';
import { MODEL_NAMES } from '../schemas/index.ts';

export async function benchModels(opts: { data: string; modelsDir?: string; json?: boolean }) {
  const models = await loadModels(opts.modelsDir);
  const { tracks } = await loadKaggleCsv(opts.data, { limit: 4096 });
  const rows = tracks.slice(0, 2048);
  // Warm up every model (JIT, wasm) before timing.
  await models.predictBatch(rows.slice(0, 256));
  const perModel: Record<string, { batch1_us: number; batch256_us: number }> = {};
  for (const m of MODEL_NAMES) perModel[m] = { batch1_us: 0, batch256_us: 0 };
  const single = 300;
  for (let i = 0; i < single; i++) {
    const p = await models.predictBatch([rows[i]!]);
    for (const m of MODEL_NAMES) perModel[m]!.batch1_us += p.inferenceUs[m] / single;
  }
  const batches = Math.floor(rows.length / 256);
  for (let b = 0; b < batches; b++) {
    const p = await models.predictBatch(rows.slice(b * 256, (b + 1) * 256));
    for (const m of MODEL_NAMES) perModel[m]!.batch256_us += p.inferenceUs[m] / batches;
  }
  const result = { load_seconds: models.loadSeconds, models: perModel };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `models loaded in ${models.loadSeconds.toFixed(2)} s\nmodel    µs/row batch 1   µs/row batch 256   ratio\n`,
    );
    for (const m of MODEL_NAMES) {
      const r = perModel[m]!;
      process.stdout.write(
        `${m.padEnd(8)} ${r.batch1_us.toFixed(1).padStart(14)} ${r.batch256_us.toFixed(1).padStart(18)} ${(r.batch1_us / r.batch256_us).toFixed(1).padStart(7)}x\n`,
      );
    }
  }
  return result;
}
