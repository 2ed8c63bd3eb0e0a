/**
 * Storage for the forest: each tree in preorder as (feature, value) pairs, gzip-compressed. Leaf
 * or split is told by the feature (-1 = leaf), so the right-child pointers need not be stored:
 * they are rebuilt on load. About 5 bytes a node before compression.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { CompactTree } from './histogram-trainer.ts';

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

export function decodeForest(gz: Buffer): CompactTree[] {
  const buf = gunzipSync(gz);
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
  for (const size of sizes) {
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
