import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binExpr, featureBinsSql } from '../../warehouse/drift-sql.ts';
import { parseWindow } from '../../api/routes/drift.ts';
import { binOf, decileReference, jensenShannon, psi, shares } from '../../models/drift-reference.ts';
import { rng } from '../../training/split.ts';

test('decile reference: ~10% per bin on continuous data, bins agree with binOf', () => {
  const r = rng(1);
  const values = Array.from({ length: 10_000 }, () => r());
  const ref = decileReference(values);
  assert.equal(ref.edges.length, 9);
  for (const p of ref.proportions) assert.ok(Math.abs(p - 0.1) < 0.01, String(p));
  assert.equal(binOf(ref.edges, -1), 0);
  assert.equal(binOf(ref.edges, 2), 9);
  assert.equal(binOf(ref.edges, ref.edges[3]!), 4, 'a value on an edge belongs to the bin above (x >= edge)');
});

test('discrete features get fewer bins, never an empty first bin', () => {
  const ref = decileReference([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(ref.edges, [1]);
  assert.deepEqual(ref.proportions, [0.3, 0.7]);
});

test('PSI is ~0 for the same distribution and large for a shifted one; JS is bounded', () => {
  const ref = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
  assert.ok(psi(ref, ref) < 1e-9);
  const shifted = [0, 0, 0, 0, 0, 0.1, 0.1, 0.2, 0.3, 0.3];
  assert.ok(psi(ref, shifted) > 0.2);
  const js = jensenShannon(ref, shifted);
  assert.ok(js > 0 && js <= 1);
  assert.deepEqual(
    shares(
      new Map([
        [0, 1],
        [2, 3],
      ]),
      3,
    ),
    [0.25, 0, 0.75],
  );
});

test('the SQL bin expression is the count of edges at or below the value', () => {
  assert.equal(binExpr('energy', [0.2, 0.5]), '((toFloat64(energy) >= 0.2) + (toFloat64(energy) >= 0.5))');
  assert.throws(() => binExpr('energy; DROP TABLE x', [1]), /identifier/);
  assert.match(
    featureBinsSql({ energy: [0.5] }, 900),
    /FROM track_events FINAL\nWHERE event_time >= now\(\) - 900/,
  );
});

test('windows parse to seconds; bad ones name the field', () => {
  assert.equal(parseWindow('15m'), 900);
  assert.equal(parseWindow('2h'), 7200);
  for (const bad of ['15 minutes', '0s', '-5m', '1.5h', '99999999d'])
    assert.throws(
      () => parseWindow(bad),
      (e: Error & { field?: string }) => e.field === 'window',
      bad,
    );
});
