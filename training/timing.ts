/** Scoring time per row of a fresh fit, at batch 1 and batch 256, and a folder's size: the report's cost columns. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scorer } from '../models/model.ts';

export async function timePerRow(
  scorer: Scorer,
  X: Float32Array,
  f: number,
): Promise<{ batch1: number; batch256: number }> {
  const n = X.length / f;
  const single = Math.min(200, n);
  let t = performance.now();
  for (let i = 0; i < single; i++) await scorer.predict(X.subarray(i * f, (i + 1) * f));
  const batch1 = ((performance.now() - t) * 1000) / single;
  const rows = Math.min(256 * 8, n - (n % 256) || n);
  t = performance.now();
  for (let o = 0; o < rows; o += 256) await scorer.predict(X.subarray(o * f, Math.min(o + 256, n) * f));
  return { batch1, batch256: ((performance.now() - t) * 1000) / rows };
}

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}
