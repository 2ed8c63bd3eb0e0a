/**
 * `hitstream bench shap`: hitstream's Tree SHAP against Python shap's TreeExplainer on the same
 * trees (the set's Random Forest and XGBoost) and rows. Exports the trees and rows to a temporary
 * folder, runs bench/shap_reference.py (needs `pip install shap`), and prints the largest
 * difference per model. `--write-fixture` keeps the first rows and shap's values for
 * test/unit/tree-shap-reference.test.ts, which checks them without Python.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { toMatrix } from '../models/features.ts';
import { expectedValue, type ShapTrees, treeShapExplainer } from '../models/explain/tree-shap.ts';
import { loadModels } from '../models/model-set.ts';

const SCRIPT = fileURLToPath(new URL('./shap_reference.py', import.meta.url));
export const SHAP_FIXTURE = fileURLToPath(new URL('../test/fixtures/shap-reference.json', import.meta.url));
const TREE_MODELS = ['rf', 'xgb'] as const;

/** The largest float32 below t: `x < t` ⇔ `x <= below(t)` for float32 x (shap's rule is `<=`). */
export function below(t: number): number {
  const f = new Float32Array([t]);
  const i = new Int32Array(f.buffer);
  if (f[0] === 0) return -1.401298464324817e-45;
  i[0]! += f[0]! > 0 ? -1 : 1;
  return f[0]!;
}

/** Writes one model's trees as bench/shap_reference.py reads them. */
async function exportTrees(dir: string, name: string, m: ShapTrees): Promise<void> {
  const n = m.left.length;
  const ranges = Array.from(m.roots, (root, t) => [root, t + 1 < m.roots.length ? m.roots[t + 1]! : n]);
  const value = new Float64Array(n);
  const threshold = new Float64Array(n);
  const def = new Int32Array(n);
  // Internal nodes carry their cover-weighted mean (shap reads the root's as the base value).
  for (let k = n - 1; k >= 0; k--) {
    const l = m.left[k]!;
    if (l < 0) value[k] = m.value[k]! * m.scale;
    else {
      const r = m.right[k]!;
      value[k] = (value[l]! * m.cover[l]! + value[r]! * m.cover[r]!) / (m.cover[l]! + m.cover[r]!);
      threshold[k] = below(m.value[k]!);
      def[k] = m.defaultLeft?.[k] ? l : r;
    }
  }
  const write = (array: string, data: ArrayBufferView) =>
    writeFile(
      join(dir, `${name}.${array}.bin`),
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  await write('left', m.left);
  await write('right', m.right);
  await write('default', def);
  await write('feature', m.feature);
  await write('threshold', threshold);
  await write('value', value);
  await write('cover', Float64Array.from(m.cover));
  await writeFile(join(dir, `${name}.json`), JSON.stringify({ ranges, base_offset: m.offset }));
}

export async function benchShap(opts: {
  data: string;
  modelsDir?: string;
  rows: number;
  python: string;
  writeFixture?: boolean;
}): Promise<void> {
  const set = await loadModels(opts.modelsDir);
  const { tracks } = await loadKaggleCsv(opts.data, { limit: opts.rows });
  const pre = set.manifests.rf.preprocessing;
  const f = pre.features.length;
  const X = toMatrix(tracks, pre);
  const n = X.length / f;
  const dir = await mkdtemp(join(tmpdir(), 'hitstream-shap-'));
  try {
    await writeFile(join(dir, 'rows.bin'), new Uint8Array(X.buffer));
    await writeFile(join(dir, 'rows.json'), JSON.stringify({ features: f }));
    const ours: Record<string, { base: number; values: number[][]; ms: number }> = {};
    for (const name of TREE_MODELS) {
      const trees = await set.shapTrees(name)!;
      await exportTrees(dir, name, trees);
      const explain = treeShapExplainer(trees, f);
      const t0 = performance.now();
      const values: number[][] = [];
      for (let i = 0; i < n; i++) {
        const phi = new Float64Array(f);
        explain(X.subarray(i * f, i * f + f), phi);
        values.push(Array.from(phi));
      }
      ours[name] = { base: expectedValue(trees), values, ms: (performance.now() - t0) / n };
    }
    process.stdout.write(`shap: running ${opts.python} ${SCRIPT} on ${n} rows (shap's C++ Tree SHAP)\n`);
    execFileSync(opts.python, [SCRIPT, dir], { stdio: 'inherit' });
    const fixture: Record<string, unknown> = {
      rows: Array.from({ length: Math.min(n, 40) }, (_, i) => Array.from(X.subarray(i * f, i * f + f))),
    };
    process.stdout.write('model  rows  max |Δ value|  max |Δ base|  ours ms/row\n');
    for (const name of TREE_MODELS) {
      const ref = JSON.parse(await readFile(join(dir, `${name}.shap.json`), 'utf8')) as {
        shap: string;
        base: number;
        values: number[][];
      };
      let worst = 0;
      ref.values.forEach((row, i) =>
        row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ours[name]!.values[i]![j]!)))),
      );
      const baseDiff = Math.abs(ref.base - ours[name]!.base);
      process.stdout.write(
        `${name.padEnd(6)} ${String(n).padStart(4)}  ${worst.toExponential(2).padStart(13)}  ${baseDiff.toExponential(2).padStart(12)}  ${ours[name]!.ms.toFixed(1).padStart(11)}\n`,
      );
      fixture[name] = {
        version: set.versions[name],
        shap: ref.shap,
        base: ref.base,
        values: ref.values.slice(0, 40),
      };
    }
    if (opts.writeFixture) {
      await writeFile(SHAP_FIXTURE, `${JSON.stringify(fixture)}\n`);
      process.stdout.write(`wrote ${SHAP_FIXTURE} (first 40 rows)\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
