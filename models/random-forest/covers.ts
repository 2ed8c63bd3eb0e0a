/**
 * The forest's node covers (bootstrap rows per node, preorder, float32, gzip) in a file of their
 * own beside forest.bin.gz: scoring never needs them, so a worker that does not explain never
 * reads them, and forests grown before explanations still load (they cannot be explained).
 */
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { HitstreamError } from '../../lib/errors.ts';
import type { CompactTree } from './tree.ts';

export const FOREST_COVERS_FILE = 'forest-covers.bin.gz';

export function encodeCovers(trees: readonly CompactTree[]): Buffer {
  const all = new Float32Array(trees.reduce((n, t) => n + t.feature.length, 0));
  let o = 0;
  for (const t of trees) {
    if (!t.cover) throw new Error('a tree without covers cannot be saved with covers');
    all.set(t.cover, o);
    o += t.cover.length;
  }
  return gzipSync(Buffer.from(all.buffer), { level: 6 });
}

/** One cover array per tree, cut from the file by the trees' sizes (which must add up to it). */
export async function decodeCovers(gz: Buffer, trees: readonly CompactTree[]): Promise<Float32Array[]> {
  const buf = await promisify(gunzip)(gz);
  const total = trees.reduce((n, t) => n + t.feature.length, 0);
  if (buf.byteLength !== 4 * total)
    throw new HitstreamError(
      'MODEL_MISMATCH',
      `${FOREST_COVERS_FILE} holds ${buf.byteLength / 4} covers for a forest of ${total} nodes`,
    );
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let o = 0;
  return trees.map((t) => {
    const c = all.subarray(o, o + t.feature.length);
    o += t.feature.length;
    return c;
  });
}
