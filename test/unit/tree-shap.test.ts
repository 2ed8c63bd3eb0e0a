/**
 * Tree SHAP (models/explain/tree-shap.ts) against values computed another way: by hand on a stump,
 * and by enumerating every coalition of the path-dependent game (Lundberg et al.'s Algorithm 1,
 * E[f | x_S] by following x on S and weighing both children by cover elsewhere) on random trees
 * with repeated features on a path. Python shap's values on the shipped trees:
 * tree-shap-reference.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  expectedValue,
  gaussLegendre,
  type ShapTrees,
  treeShapExplainer,
} from '../../models/explain/tree-shap.ts';
import { rng } from '../../training/split.ts';

interface Node {
  feature: number;
  threshold: number;
  value: number;
  cover: number;
  left?: Node;
  right?: Node;
}

/** Flattens trees into ShapTrees (preorder). */
function shapTrees(trees: Node[], scale = 1, offset = 0): ShapTrees {
  const nodes: Node[] = [];
  const ids = new Map<Node, number>();
  const roots: number[] = [];
  let maxDepth = 0;
  const add = (n: Node, depth: number) => {
    ids.set(n, nodes.length);
    nodes.push(n);
    maxDepth = Math.max(maxDepth, depth);
    if (n.left) add(n.left, depth + 1);
    if (n.right) add(n.right, depth + 1);
  };
  for (const t of trees) {
    roots.push(nodes.length);
    add(t, 0);
  }
  return {
    roots: Int32Array.from(roots),
    left: Int32Array.from(nodes, (n) => (n.left ? ids.get(n.left)! : -1)),
    right: Int32Array.from(nodes, (n) => (n.right ? ids.get(n.right)! : -1)),
    feature: Int32Array.from(nodes, (n) => (n.left ? n.feature : -1)),
    value: Float32Array.from(nodes, (n) => (n.left ? n.threshold : n.value)),
    cover: Float32Array.from(nodes, (n) => n.cover),
    scale,
    offset,
    maxDepth,
  };
}

const leaf = (value: number, cover: number): Node => ({ feature: -1, threshold: 0, value, cover });
const split = (feature: number, threshold: number, left: Node, right: Node): Node => ({
  feature,
  threshold,
  value: 0,
  left,
  right,
  cover: left.cover + right.cover,
});

function explain(trees: ShapTrees, x: number[]) {
  const phi = new Float64Array(x.length);
  treeShapExplainer(trees, x.length)(Float32Array.from(x), phi);
  return { phi: Array.from(phi), base: expectedValue(trees) };
}

/** E[f | x_S] of one tree, path-dependent (Algorithm 1 of Lundberg, Erion & Lee 2018). */
function conditional(n: Node, x: number[], S: Set<number>): number {
  if (!n.left || !n.right) return n.value;
  if (S.has(n.feature)) return conditional(x[n.feature]! < n.threshold ? n.left : n.right, x, S);
  return (n.left.cover * conditional(n.left, x, S) + n.right.cover * conditional(n.right, x, S)) / n.cover;
}

/** Shapley values by enumerating all 2^f coalitions. */
function bruteForce(trees: Node[], x: number[], scale: number): number[] {
  const f = x.length;
  const v = (mask: number) => {
    const S = new Set(Array.from({ length: f }, (_, j) => j).filter((j) => mask & (1 << j)));
    return scale * trees.reduce((s, t) => s + conditional(t, x, S), 0);
  };
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  return Array.from({ length: f }, (_, i) => {
    let phi = 0;
    for (let mask = 0; mask < 1 << f; mask++) {
      if (mask & (1 << i)) continue;
      const size = mask.toString(2).split('1').length - 1;
      phi += ((fact(size) * fact(f - size - 1)) / fact(f)) * (v(mask | (1 << i)) - v(mask));
    }
    return phi;
  });
}

function randomTree(random: () => number, f: number, depth: number, cover: number): Node {
  if (depth === 0 || cover < 2 || random() < 0.15) return leaf(Math.round(random() * 100), cover);
  const leftCover = Math.max(1, Math.min(cover - 1, Math.round(cover * (0.2 + 0.6 * random()))));
  // Few features for many splits: the same feature comes back on a path, often.
  return split(
    Math.floor(random() * f),
    Math.round(random() * 10) / 10,
    randomTree(random, f, depth - 1, leftCover),
    randomTree(random, f, depth - 1, cover - leftCover),
  );
}

test('a forest of one stump: the values worked out by hand', () => {
  // x0 < 0.5 → 10 (30 training rows), else 20 (10 rows). Base: (30·10 + 10·20) / 40 = 12.5.
  const trees = shapTrees([split(0, 0.5, leaf(10, 30), leaf(20, 10))]);
  const left = explain(trees, [0.2, 7]);
  assert.equal(left.base, 12.5);
  assert.deepEqual(left.phi, [-2.5, 0], 'x goes left: the split feature takes 10 − 12.5, the other nothing');
  const right = explain(trees, [0.9, 7]);
  assert.ok(Math.abs(right.phi[0]! - 7.5) < 1e-12, `${right.phi[0]}`);
  assert.equal(right.phi[1], 0);
});

test('two features on one path share the interaction equally (the Shapley rule), by hand', () => {
  // f = 10 only when x0 ≥ 0.5 and x1 ≥ 0.5, each side half the rows: base 2.5, output 10.
  const trees = shapTrees([split(0, 0.5, leaf(0, 50), split(1, 0.5, leaf(0, 25), leaf(10, 25)))]);
  const { phi, base } = explain(trees, [1, 1]);
  assert.equal(base, 2.5);
  // v({}) = 2.5, v({0}) = 5, v({1}) = 5, v({0,1}) = 10: φ0 = φ1 = ½(2.5) + ½(5) = 3.75.
  assert.ok(Math.abs(phi[0]! - 3.75) < 1e-12 && Math.abs(phi[1]! - 3.75) < 1e-12, phi.join(', '));
});

test('random deep trees with repeated features: equal to enumerating every coalition; base + Σφ = f(x)', () => {
  const random = rng(11);
  for (let round = 0; round < 30; round++) {
    const f = 2 + Math.floor(random() * 4);
    const nTrees = 1 + Math.floor(random() * 3);
    const nodes = Array.from({ length: nTrees }, () =>
      randomTree(random, f, 3 + Math.floor(random() * 5), 1000),
    );
    const scale = 1 / nTrees;
    const trees = shapTrees(nodes, scale, round % 2 ? 0 : 0.5);
    const x = Array.from({ length: f }, () => Math.round(random() * 10) / 10 + 0.05);
    const { phi, base } = explain(trees, x);
    const expected = bruteForce(nodes, x, scale);
    phi.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[j]!) < 1e-9, `round ${round} feature ${j}: ${v} vs ${expected[j]}`),
    );
    const output =
      (round % 2 ? 0 : 0.5) + scale * nodes.reduce((s, t) => s + conditional(t, x, new Set(x.keys())), 0);
    assert.ok(
      Math.abs(base + phi.reduce((a, b) => a + b, 0) - output) < 1e-9,
      `round ${round}: local accuracy`,
    );
  }
});

test('a row explained a few trees at a time equals the row explained at once', () => {
  const random = rng(5);
  const nodes = Array.from({ length: 6 }, () => randomTree(random, 4, 6, 500));
  const trees = shapTrees(nodes, 1 / 6);
  const explainer = treeShapExplainer(trees, 4);
  const x = Float32Array.from([0.3, 0.7, 0.1, 0.9]);
  const whole = new Float64Array(4);
  explainer(x, whole);
  const parts = new Float64Array(4);
  for (let from = 0; from < 6; from += 4) explainer(x, parts, from, Math.min(6, from + 4));
  parts.forEach((v, j) => assert.ok(Math.abs(v - whole[j]!) < 1e-12));
});

test('Gauss–Legendre on [0, 1]: k points integrate t^(2k−1) exactly', () => {
  for (const k of [1, 3, 11]) {
    const { t, w } = gaussLegendre(k);
    const integral = t.reduce((s, v, i) => s + w[i]! * v ** (2 * k - 1), 0);
    assert.ok(Math.abs(integral - 1 / (2 * k)) < 1e-12, `k ${k}: ${integral}`);
  }
});
