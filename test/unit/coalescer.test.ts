/** Coalescer: concurrent requests share one run, each caller gets its own slice (pure logic). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer } from '../../scorers/coalescer.ts';

test('requests of one turn go in one run; requests made during a run go together in the next', async () => {
  const runs: number[][] = [];
  // Said by the run itself: a 5 ms timer here once fired before the run began, on a busy machine.
  let runStarted = () => undefined as void;
  const firstRunStarted = new Promise<void>((r) => (runStarted = r));
  const doubler = new Coalescer<number, number>(async (inputs) => {
    runs.push(inputs);
    runStarted();
    await new Promise((r) => setTimeout(r, 20));
    return inputs.map((x) => x * 2);
  });
  const first = [doubler.submit(1), doubler.submit(2), doubler.submit(3)];
  await firstRunStarted; // the first run is in progress now
  const second = [doubler.submit(4), doubler.submit(5)];
  assert.deepEqual(await Promise.all([...first, ...second]), [2, 4, 6, 8, 10]);
  assert.deepEqual(runs, [
    [1, 2, 3],
    [4, 5],
  ]);
});

test('a failed run rejects its own requests only; the next run goes ahead', async () => {
  let calls = 0;
  const c = new Coalescer<string, string>((inputs) => {
    calls++;
    return calls === 1
      ? Promise.reject(new Error('broker gone'))
      : Promise.resolve(inputs.map((s) => s + '!'));
  });
  const failed = [c.submit('a'), c.submit('b')];
  for (const p of failed) await assert.rejects(p, /broker gone/);
  assert.equal(await c.submit('c'), 'c!');
});

test('a run returning the wrong number of results is an error, not a silent mismatch', async () => {
  const c = new Coalescer<number, number>(() => Promise.resolve([1]));
  const both = [c.submit(1), c.submit(2)];
  for (const p of both) await assert.rejects(p, /returned 1 results for 2 requests/);
});
