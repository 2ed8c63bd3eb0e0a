/**
 * Storage for the forest: each tree in preorder as (feature, value) pairs, gzip-compressed. Leaf
 * or split is told by the feature (-1 = leaf), so the right-child pointers need not be stored:
 * they are rebuilt on load. About 5 bytes a node before compression.
 */
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import type { CompactTree } from './tree.ts';

export function encodeForest(trees: readonly CompactTree[]): Buffer {
  const total = trees.reduce((n, t) => n + t.feature.length, 0);
  const header = new Uint32Array([trees.length, ...trees.map((t) => t.feature.length)]);
  const features = new Int8Array(total);
  const values = new Float32Array(total);
  let o = 0;
  for (const t of trees) {
    features.set(t.feature, o);
    values.set(t.value, o);
    o += t.feature.length;
  }
  return gzipSync(
    Buffer.concat([Buffer.from(header.buffer), Buffer.from(features.buffer), Buffer.from(values.buffer)]),
    { level: 9 },
  );
}

const gunzipAsync = promisify(gunzip);
/** Trees rebuilt between two yields to the event loop (a forest is hundreds of thousands of nodes). */
const TREES_PER_SLICE = 10;

/**
 * Decompresses off the main thread (zlib's thread pool) and rebuilds the trees a few at a time,
 * yielding in between: a hot swap loads a forest while the worker scores, and gunzipSync plus
 * one pass over every tree held the event loop for ~90 ms (bench swap's p99).
 */
export async function decodeForest(gz: Buffer): Promise<CompactTree[]> {
  const buf = await gunzipAsync(gz);
  const u32 = new Uint32Array(
    buf.buffer.slice(buf.byteOffset, buf.byteOffset + 4 * (1 + buf.readUInt32LE(0))),
  );
  const nTrees = u32[0]!;
  const sizes = Array.from(u32.subarray(1, 1 + nTrees));
  const total = sizes.reduce((a, b) => a + b, 0);
  let o = 4 * (1 + nTrees);
  const features = new Int8Array(buf.buffer.slice(buf.byteOffset + o, buf.byteOffset + o + total));
  o += total;
  const values = new Float32Array(buf.buffer.slice(buf.byteOffset + o, buf.byteOffset + o + 4 * total));
  const trees: CompactTree[] = [];
  let start = 0;
  for (const [i, size] of sizes.entries()) {
    if (i > 0 && i % TREES_PER_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
    const feature = Int16Array.from(features.subarray(start, start + size));
    const value = values.slice(start, start + size);
    trees.push({ feature, value, right: rightPointers(feature) });
    start += size;
  }
  return trees;
}

/** Rebuilds right-child indices of a preorder tree from its leaf flags. */
function rightPointers(feature: Int16Array): Int32Array {
  const right = new Int32Array(feature.length).fill(-1);
  const open: number[] = []; // split nodes whose left subtree is still being read
  for (let i = 0; i < feature.length; i++) {
    if (feature[i] === -1) {
      // A leaf closes subtrees: the next node is the right child of the nearest open split.
      if (i + 1 < feature.length) right[open.pop()!] = i + 1;
    } else open.push(i);
  }
  return right;
}

type MlNode =
  | { distribution: number }
  | { splitColumn: number; splitValue: number; gain: number; left: MlNode; right: MlNode };

/** One tree as ml-cart's DecisionTreeRegression JSON, for ml-random-forest's loader. */
export function toMlCartTree(t: CompactTree, index = 0): MlNode {
  if (t.feature[index] === -1) return { distribution: t.value[index]! };
  return {
    splitColumn: t.feature[index]!,
    splitValue: t.value[index]!,
    gain: 0,
    left: toMlCartTree(t, index + 1),
    right: toMlCartTree(t, t.right[index]),
  };
}
