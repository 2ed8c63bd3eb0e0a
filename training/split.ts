/** Reproducible train/test splits: the original's random row split, and a leakage-free one by track. */
import { createHash } from 'node:crypto';

/** mulberry32: a tiny, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export interface Split {
  train: number[];
  test: number[];
}

/** The original's protocol: a random 80/20 split of rows (copies of a track can land on both sides). */
export function randomRowSplit(n: number, seed: number, testFraction = 0.2): Split {
  const idx = shuffle(
    Array.from({ length: n }, (_, i) => i),
    rng(seed),
  );
  const cut = Math.round(n * testFraction);
  return { test: idx.slice(0, cut).sort((a, b) => a - b), train: idx.slice(cut).sort((a, b) => a - b) };
}

/** Every row of a track_id on one side, chosen by a seeded hash of the id. */
export function groupedSplit(ids: readonly string[], seed: number, testFraction = 0.2): Split {
  const split: Split = { train: [], test: [] };
  ids.forEach((id, i) => {
    const h = createHash('sha1').update(`${seed}:${id}`).digest().readUInt32BE(0) / 4294967296;
    (h < testFraction ? split.test : split.train).push(i);
  });
  return split;
}
