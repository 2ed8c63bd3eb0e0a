/**
 * The promotion test (registry/sequential-test.ts): checked after every event, equal models are
 * declared "better" no more often than the stated rate; a real difference is decided in a bounded
 * number of events; a worse challenger is found "not better".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rng } from '../../training/split.ts';
import { describeTest, sequentialTest } from '../../registry/sequential-test.ts';

/** A standard normal draw (Box-Muller). */
const normal = (random: () => number) => () =>
  Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/**
 * Paired errors like two models' on the same events: a shared, heavy-tailed part (the track is
 * hard for both: errors of 5 to 40 points), plus each model's own noise. `gap` scales the
 * challenger's own noise down (gap 0: the two are exchangeable, equally good).
 */
function* pairs(seed: number, count: number, gap = 0) {
  const z = normal(rng(seed));
  for (let i = 0; i < count; i++) {
    const shared = 15 * z() * (1 + Math.abs(z()));
    yield { incumbent: shared + 8 * z(), challenger: shared + 8 * (1 - gap) * z() };
  }
}

const OPTS = { alpha: 0.05, margin: 0, minEvents: 50 };

test('equal models checked after every event: false promotions stay within the stated rate', () => {
  const runs = 400;
  let better = 0;
  for (let r = 0; r < runs; r++)
    if (sequentialTest(pairs(1000 + r, 3000), OPTS).decision === 'better') better++;
  const rate = better / runs;
  console.log(
    `equal models, checked after each of 3,000 events: ${better} of ${runs} runs promoted (${rate})`,
  );
  // The band is two-sided at α, so one side is wrong at most α/2 of the time; α is what we state.
  assert.ok(rate <= OPTS.alpha, `false promotion rate ${rate} > α ${OPTS.alpha} (${better} of ${runs})`);
});

test('a window test checked as often would promote equal models far more often (why the test exists)', () => {
  // The same data, a fixed-sample 95 % interval checked after every 50 events.
  let better = 0;
  for (let r = 0; r < 400; r++) {
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (const p of pairs(1000 + r, 3000)) {
      const d = p.incumbent ** 2 - p.challenger ** 2;
      n++;
      sum += d;
      sq += d * d;
      if (n % 50 !== 0) continue;
      const mean = sum / n;
      const sd = Math.sqrt((sq - n * mean * mean) / (n - 1));
      if (mean - (1.96 * sd) / Math.sqrt(n) > 0) {
        better++;
        break;
      }
    }
  }
  console.log(`the same runs, a fixed 95 % interval checked every 50 events: ${better} of 400 promoted`);
  assert.ok(better / 400 > 0.05, `peeking at a fixed interval: ${better} of 400`);
});

test('a real difference is decided, and in a bounded number of events', () => {
  const decidedAt: number[] = [];
  for (let r = 0; r < 100; r++) {
    const s = sequentialTest(pairs(5000 + r, 5000, 0.5), OPTS);
    assert.equal(s.decision, 'better', describeTest(s));
    decidedAt.push(s.decidedAt);
  }
  decidedAt.sort((a, b) => a - b);
  assert.ok(decidedAt.at(-1)! < 5000);
  assert.ok(decidedAt[50]! < 1500, `median events to decide: ${decidedAt[50]}`);
});

test('a worse challenger is "not better"; the margin asks for more than equal', () => {
  const worse = [...pairs(7, 4000, 0.5)].map((p) => ({ incumbent: p.challenger, challenger: p.incumbent }));
  assert.equal(sequentialTest(worse, OPTS).decision, 'not better');
  // Equal models with a 20 % margin: the challenger cannot beat live by that much.
  assert.equal(sequentialTest(pairs(8, 4000), { ...OPTS, margin: 0.2 }).decision, 'not better');
});

test('no decision before the minimum number of events, nor on an empty stream', () => {
  const few = [...pairs(9, 4000, 0.9)].slice(0, 49);
  const s = sequentialTest(few, OPTS);
  assert.equal(s.decision, 'undecided');
  assert.equal(s.events, 49);
  assert.equal(sequentialTest([], OPTS).decision, 'undecided');
  assert.match(describeTest(sequentialTest([], OPTS)), /undecided; no paired labelled events yet$/);
});

test('the margin is a share of the incumbent MSE: d = (1 - m)·e_inc² - e_ch²', () => {
  const s = sequentialTest(
    [
      { incumbent: 10, challenger: 9 },
      { incumbent: 10, challenger: 9 },
    ],
    { ...OPTS, minEvents: 1, margin: 0.1 },
  );
  assert.equal(s.mean, 0.9 * 100 - 81);
  assert.equal(s.incumbentMse, 100);
  assert.equal(s.challengerMse, 81);
  // Identical models (the same error on every event): d is 0 throughout, never a decision.
  const same = [...pairs(10, 2000)].map((p) => ({ incumbent: p.incumbent, challenger: p.incumbent }));
  assert.equal(sequentialTest(same, OPTS).decision, 'undecided');
});
