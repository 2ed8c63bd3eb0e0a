// The group consumer's hand-overs against the real broker: a backlog bigger than `maxHandOver`
// goes over in pieces of at most that many messages, every message once, in offset order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGroupConsumer, type ConsumedBatch } from '../../lib/kafka-consumer.ts';
import { createLogger } from '../../lib/logger.ts';
import { freshTopics, testConfig, testKafka, uniqueName } from '../helpers/services.ts';

const cfg = testConfig();
const topic = uniqueName('t_handover');
let dropTopics: () => Promise<void>;
before(async () => {
  dropTopics = await freshTopics(cfg, [{ topic, numPartitions: 3 }]);
});
after(async () => dropTopics());

test('a backlog of 6,000 messages is handed over at most 1,000 at a time, each once and in order', async () => {
  const producer = testKafka(cfg).producer();
  await producer.connect();
  const total = 6000;
  await producer.send({
    topic,
    messages: Array.from({ length: total }, (_, i) => ({ key: `k${i % 31}`, value: String(i) })),
  });
  await producer.disconnect();
  const handOvers: number[] = [];
  const seen = new Map<number, number[]>();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const consumer = createGroupConsumer(cfg, {
    clientId: 'test-handover',
    groupId: uniqueName('g'),
    topics: [topic],
    fromBeginning: true,
    maxHandOver: 1000,
    onBatches: async (batches: ConsumedBatch[]) => {
      handOvers.push(batches.reduce((n, b) => n + b.messages.length, 0));
      for (const b of batches) {
        const offsets = seen.get(b.partition) ?? [];
        for (const m of b.messages) offsets.push(Number(m.offset));
        seen.set(b.partition, offsets);
      }
      // Slower than the fetches, so that a backlog builds up behind each hand-over.
      await new Promise((r) => setTimeout(r, 50));
      if (handOvers.reduce((a, b) => a + b, 0) >= total) done();
    },
    onFatal: (err) => assert.fail(err),
    stopped: () => false,
    log: createLogger('test', 'warn'),
  });
  await consumer.start();
  await Promise.race([
    all,
    new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 60_000)),
  ]);
  await consumer.close();
  assert.ok(Math.max(...handOvers) <= 1000, `hand-overs: ${handOvers.join(', ')}`);
  assert.ok(handOvers.filter((n) => n === 1000).length >= 2, `a backlog was split: ${handOvers.join(', ')}`);
  let count = 0;
  for (const offsets of seen.values()) {
    count += offsets.length;
    offsets.forEach((o, i) => assert.equal(o, i, 'each partition from offset 0, each offset once, in order'));
  }
  assert.equal(count, total);
});
