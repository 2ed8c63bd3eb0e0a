/** The real broker: produce, consume in a group, rebalance across two members, committed offsets. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Consumer } from 'kafkajs';
import { ensureTopics } from '../../lib/kafka.ts';
import { freshTopics, testConfig, testKafka, uniqueName } from '../helpers/services.ts';

const cfg = testConfig();
const topic = uniqueName('t_kafka');
let dropTopics: () => Promise<void>;
before(async () => {
  dropTopics = await freshTopics(cfg, [{ topic, numPartitions: 4 }]);
});
after(async () => dropTopics());

test('1,000 keyed messages produced in one batch are all consumed by a group, then a second member takes half the partitions', async () => {
  const kafka = testKafka(cfg);
  const producer = kafka.producer();
  await producer.connect();
  const sent = Array.from({ length: 1000 }, (_, i) => ({ key: `track-${i % 97}`, value: `m${i}` }));
  await producer.send({ topic, messages: sent });
  await producer.disconnect();

  const groupId = uniqueName('g');
  const seen = new Set<string>();
  const assignments = new Map<string, number[]>();
  const member = async (name: string): Promise<Consumer> => {
    const c = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    c.on(c.events.GROUP_JOIN, (e) => assignments.set(name, e.payload.memberAssignment[topic] ?? []));
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) seen.add(m.value!.toString());
        return Promise.resolve();
      },
    });
    return c;
  };
  const first = await member('first');
  for (let i = 0; i < 200 && seen.size < 1000; i++) await sleep(100);
  assert.equal(seen.size, 1000, 'every produced message was consumed');
  assert.deepEqual(assignments.get('first')?.sort(), [0, 1, 2, 3]);

  const second = await member('second');
  for (
    let i = 0;
    i < 200 && !(assignments.get('second')?.length && assignments.get('first')?.length !== 4);
    i++
  )
    await sleep(100);
  const a = assignments.get('first') ?? [];
  const b = assignments.get('second') ?? [];
  assert.equal(a.length + b.length, 4, `partitions split across members: ${JSON.stringify([a, b])}`);
  assert.ok(a.length > 0 && b.length > 0, 'both members own partitions after the rebalance');
  assert.deepEqual([...a, ...b].sort(), [0, 1, 2, 3]);

  await Promise.all([first.disconnect(), second.disconnect()]);
  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets!.partitions.reduce((n, p) => n + Number(p.offset), 0);
  assert.equal(committed, 1000, 'the group committed every offset');
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
});

test('ensureTopics creates the topics with the replication the cluster allows, and refuses more replicas than brokers', async () => {
  const id = uniqueName('repl');
  const cfg = {
    ...testConfig(),
    topicTracks: `${id}.tracks`,
    topicPredictions: `${id}.predictions`,
    topicDeadLetters: `${id}.dead`,
    topicModels: `${id}.models`,
  };
  const admin = testKafka(cfg).admin();
  await admin.connect();
  try {
    const brokers = (await admin.describeCluster()).brokers.length;
    await ensureTopics(cfg);
    const meta = await admin.fetchTopicMetadata({ topics: [cfg.topicTracks] });
    const expected = brokers >= 3 ? 3 : 1;
    for (const partition of meta.topics[0]!.partitions) assert.equal(partition.replicas.length, expected);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: cfg.topicTracks,
          configNames: ['min.insync.replicas'],
        },
      ],
    });
    assert.equal(described.resources[0]!.configEntries[0]!.configValue, String(expected >= 3 ? 2 : 1));

    // Run again with more partitions asked for: the existing topic is kept, and the shortfall said.
    const said: string[] = [];
    await ensureTopics({ ...cfg, tracksPartitions: cfg.tracksPartitions + 2 }, { log: (m) => said.push(m) });
    assert.equal(said.length, 1, said.join(' | '));
    assert.match(
      said[0]!,
      new RegExp(
        `topic ${cfg.topicTracks} has ${cfg.tracksPartitions} partitions, HITSTREAM_TRACKS_PARTITIONS asks for ${cfg.tracksPartitions + 2}`,
      ),
    );

    const tooMany = { ...cfg, topicReplication: brokers + 1, topicTracks: `${id}.other` };
    await assert.rejects(ensureTopics(tooMany), (err: Error & { field?: string }) => {
      assert.equal(err.field, 'HITSTREAM_TOPIC_REPLICATION_FACTOR');
      return true;
    });
  } finally {
    await admin
      .deleteTopics({
        topics: [cfg.topicTracks, cfg.topicPredictions, cfg.topicDeadLetters, cfg.topicModels],
      })
      .catch(() => undefined);
    await admin.disconnect();
  }
});
