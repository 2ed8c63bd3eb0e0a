/**
 * The worker's stages one by one (pure parts, and the Kafka-facing ones against recording
 * fakes; test/integration/ runs them together against a real broker and ClickHouse).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Config } from '../../lib/config.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import type { BatchPrediction } from '../../models/model-set.ts';
import { commitStage } from '../../scorers/commit.ts';
import { decodeBatch } from '../../scorers/decode.ts';
import { chunkBySize, createPublishStage } from '../../scorers/publish.ts';
import type { ScoreResult } from '../../scorers/scoring.ts';
import type { ServedSet } from '../../registry/serving.ts';
import { batchRows } from '../../scorers/write.ts';
import { EVENT_ID_HEADER, MODEL_NAMES } from '../../schemas/index.ts';

const good = (
  JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: Record<string, unknown>;
  }
).value;
const message = (offset: string, value: unknown, headers?: Record<string, unknown>) => ({
  offset,
  key: Buffer.from('k'),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  ...(headers ? { headers } : {}),
});
const silent = createLogger('test', 'silent');
const cfg: Config = { ...loadConfig({}), topicPredictions: 'p', topicDeadLetters: 'd' };

test('decode stage: events keep their id and position, bad messages become dead letters with the field', () => {
  const { valid, dead } = decodeBatch(
    {
      topic: 't',
      partition: 2,
      messages: [
        message('10', good, { [EVENT_ID_HEADER]: Buffer.from('evt-1') }),
        message('11', { ...good, valence: 7 }),
        message('12', good),
      ],
    },
    new Date('2026-12-03T00:00:00Z'),
  );
  assert.deepEqual(
    valid.map((v) => [v.eventId, v.origin]),
    [
      ['evt-1', { topic: 't', partition: 2, offset: '10', key: 'k' }],
      ['t-2-12', { topic: 't', partition: 2, offset: '12', key: 'k' }],
    ],
  );
  assert.equal(dead.length, 1);
  assert.deepEqual([dead[0]!.error_code, dead[0]!.field, dead[0]!.offset], ['out_of_range', 'valence', '11']);
});

function scoredResult(n: number, shadow: boolean): ScoreResult {
  const pred: BatchPrediction = {
    names: MODEL_NAMES,
    scores: Object.fromEntries(
      MODEL_NAMES.map((m, k) => [m, Float32Array.from({ length: n }, () => 40 + k)]),
    ) as BatchPrediction['scores'],
    tabnetMasks: new Float32Array(0),
    inferenceUs: Object.fromEntries(MODEL_NAMES.map((m) => [m, 5])) as BatchPrediction['inferenceUs'],
  };
  const versions = Object.fromEntries(MODEL_NAMES.map((m) => [m, `${m}-v1`])) as ScoreResult['versions'];
  return {
    pred,
    versions,
    ...(shadow ? { shadow: { set: { version: 'v2', models: { versions } } as never, pred } } : {}),
    scoredAt: new Date(),
    publishedAt: Date.now(),
    run: { events: n, batches: 1, scoreMs: 0, publishMs: 0 },
  };
}

test('write stage: one batch gives a track row per event, a prediction row per event and score, and the dead letters', () => {
  const { valid, dead } = decodeBatch(
    { topic: 't', partition: 0, messages: [message('1', good), message('2', good), message('3', '{')] },
    new Date(),
  );
  const rows = batchRows(valid, dead, scoredResult(valid.length, false));
  assert.equal(rows.track_events.rows, 2);
  assert.equal(rows.predictions.rows, 2 * MODEL_NAMES.length);
  assert.equal(rows.dead_letters.rows, 1);
  assert.equal('shadow_predictions' in rows, false, 'no shadow set, no shadow rows');
  assert.deepEqual(
    rows.predictions.origins.map((o) => o.offset),
    ['1', '1', '1', '1', '2', '2', '2', '2'],
    'each row knows its message (for its dead letter if refused)',
  );
  const withShadow = batchRows(valid, dead, scoredResult(valid.length, true));
  assert.equal(withShadow.shadow_predictions?.rows, 2 * MODEL_NAMES.length);
  assert.match(withShadow.shadow_predictions.text, /"set_version":"v2"/);
});

test('publish stage: predictions and dead letters go together, in chunks under the request limit', async () => {
  const sent: { topics: Record<string, number> }[] = [];
  const producer = {
    sendMany: (messages: { topic: string }[]) => {
      const topics: Record<string, number> = {};
      for (const m of messages) topics[m.topic] = (topics[m.topic] ?? 0) + 1;
      sent.push({ topics });
      return Promise.resolve();
    },
  };
  const publish = createPublishStage({ cfg, producer: producer as never, retry: { log: silent } });
  const feed = Array.from({ length: 3000 }, (_, i) => ({
    key: `t${i}`,
    value: JSON.stringify({ track_id: `t${i}`, pad: 'x'.repeat(300) }),
  }));
  await publish.run(feed, [{ key: 'k', error_code: 'malformed_json' } as never]);
  assert.ok(sent.length > 1, `${sent.length} requests`);
  assert.equal(
    sent.reduce((n, s) => n + (s.topics.p ?? 0), 0),
    3000,
  );
  assert.equal(
    sent.reduce((n, s) => n + (s.topics.d ?? 0), 0),
    1,
  );
  assert.deepEqual(
    chunkBySize([{ value: 'a'.repeat(10) }], 1),
    [[{ value: 'a'.repeat(10) }]],
    'an item over the limit goes alone',
  );
});

test('commit stage: a refused commit is logged, not thrown (a later commit covers it)', async () => {
  const warnings: string[] = [];
  const log = { ...silent, warn: (_: unknown, msg: string) => warnings.push(msg) } as never;
  const commits: unknown[] = [];
  await commitStage(
    { commit: (o) => (commits.push(o), Promise.resolve()) },
    log,
  )([{ topic: 't', partition: 0, offset: '5' }]);
  assert.deepEqual(commits, [[{ topic: 't', partition: 0, offset: '5' }]]);
  await commitStage(
    { commit: () => Promise.reject(new Error('NOT_COORDINATOR')) },
    log,
  )([{ topic: 't', partition: 0, offset: '6' }]);
  assert.match(warnings.join('\n'), /commit refused \(NOT_COORDINATOR\)/);
});

test('explain stage: a version trained before explanations is said once, and its sampled events are counted unavailable', async () => {
  const { createExplainStage } = await import('../../scorers/explain.ts');
  const { createWorkerMetrics } = await import('../../scorers/metrics.ts');
  const { HitstreamError } = await import('../../lib/errors.ts');
  const warnings: string[] = [];
  const log = {
    ...silent,
    warn: (_: unknown, msg: string) => warnings.push(msg),
  } as unknown as typeof silent;
  let calls = 0;
  const old = {
    version: 'v-old',
    models: {
      explain: () => {
        calls++;
        return Promise.reject(new HitstreamError('explain_unavailable', 'trained before explanations'));
      },
    },
  } as unknown as ServedSet;
  const metrics = createWorkerMetrics();
  const stage = createExplainStage({
    sample: 1,
    budget: 100,
    clickhouse: { insert: () => Promise.resolve() } as never,
    metrics,
    log,
  });
  const events = Array.from({ length: 20 }, (_, i) => ({
    eventId: `e${i}`,
    event: good as never,
    origin: {} as never,
  }));
  stage.offer(events.slice(0, 10), old);
  await new Promise((r) => setTimeout(r, 50));
  stage.offer(events.slice(10), old);
  await stage.stop();
  assert.equal(calls, 1, 'explained once, not once per sampled event');
  assert.deepEqual(warnings, ['sampled events scored by this version are not explained']);
  const counted = (await metrics.explanations.get()).values.find((v) => v.labels.outcome === 'unavailable');
  assert.equal(counted?.value, 20);
});

test('explain stage: an explanation is paced to the budget between its slices, unless the budget is unlimited', async () => {
  const { createExplainStage } = await import('../../scorers/explain.ts');
  const { createWorkerMetrics } = await import('../../scorers/metrics.ts');
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  // Five slices of 2 ms of work: at a 5% budget each is followed by a ~38 ms pause.
  const set = {
    version: 'v',
    models: {
      explain: async (_rows: unknown, between: () => Promise<void>) => {
        for (let i = 0; i < 5; i++) {
          busy(2);
          await between();
        }
        return { explanations: [{}], prediction: { names: [] } };
      },
    },
  } as unknown as ServedSet;
  const timeOne = async (budget: number) => {
    const metrics = createWorkerMetrics();
    const stage = createExplainStage({ sample: 1, budget, clickhouse: {} as never, metrics, log: silent });
    const t0 = performance.now();
    stage.offer([{ eventId: 'e', event: good as never, origin: {} as never }], set);
    const explained = async () =>
      (await metrics.explanations.get()).values.find((v) => v.labels.outcome === 'explained')?.value;
    while (!(await explained())) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - t0;
    await stage.stop();
    return ms;
  };
  const paced = await timeOne(0.05);
  const unlimited = await timeOne(100);
  assert.ok(paced >= 150, `paced: ${paced.toFixed(0)} ms for 10 ms of work`);
  assert.ok(unlimited < 100, `unlimited: ${unlimited.toFixed(0)} ms`);
});
