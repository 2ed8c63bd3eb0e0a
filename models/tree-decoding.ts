/**
 * The two tree models' files read, inflated and decoded into typed arrays: the bulk of loading a
 * version (~50 MB of arrays). Split from their loaders so a worker thread can do it and hand the
 * arrays over (registry/load-thread.ts) while the thread that scores goes on scoring.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { decodeForest } from './random-forest/compact-format.ts';
import { FOREST_FILE } from './random-forest/index.ts';
import type { CompactTree } from './random-forest/tree.ts';
import { parseXgbModel, type XgbTrees } from './xgboost/binary-model.ts';
import { XGB_FILE } from './xgboost/index.ts';

const gunzipAsync = promisify(gunzip);

export interface DecodedTrees {
  rf: CompactTree[];
  xgb: XgbTrees;
}

export const decodeRf = async (dir: string) => decodeForest(await readFile(join(dir, 'rf', FOREST_FILE)));

// Decompressed in zlib's thread pool when this runs on the scoring thread.
export const decodeXgb = async (dir: string) =>
  parseXgbModel(await gunzipAsync(await readFile(join(dir, 'xgb', XGB_FILE))));

/** A set's folder → its forest and boosted trees, decoded. */
export async function decodeTrees(dir: string): Promise<DecodedTrees> {
  const [rf, xgb] = await Promise.all([decodeRf(dir), decodeXgb(dir)]);
  return { rf, xgb };
}

/** Every buffer under the decoded arrays, once each: what a thread transfers rather than copies. */
export function treeBuffers(d: DecodedTrees): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [
    ...d.rf.flatMap((t) => [t.feature, t.value, t.right]),
    d.xgb.roots,
    d.xgb.left,
    d.xgb.right,
    d.xgb.feature,
    d.xgb.defaultLeft,
    d.xgb.value,
    d.xgb.gain,
    d.xgb.cover,
  ];
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  return [...buffers];
}
