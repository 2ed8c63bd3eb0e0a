import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topicShortfalls, waitForLeaders } from '../../lib/kafka.ts';

type Metadata = { topics: Map<string, { partitions: { leader: number }[] }> };

/** An admin whose metadata answers come from a script, one per call (the last one repeats). */
function scriptedAdmin(answers: (Metadata | Error)[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    metadata: () => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
}

/** A broker's error as @platformatic/kafka names it (`apiId`). */
function kafkaError(apiId: string): Error {
  return Object.assign(new Error(apiId), { apiId });
}

const topicT = (...leaders: number[]): Metadata => ({
  topics: new Map([['t', { partitions: leaders.map((leader) => ({ leader })) }]]),
});
const ready = topicT(1, 2);

test('a broker that has not heard of a new topic yet is asked again until every partition has a leader', async () => {
  const admin = scriptedAdmin([
    // The client's own words for the broker's UNKNOWN_TOPIC_OR_PARTITION in a metadata answer.
    new Error('Unknown topic t.'),
    kafkaError('UNKNOWN_TOPIC_OR_PARTITION'),
    kafkaError('LEADER_NOT_AVAILABLE'),
    topicT(1, -1),
    ready,
  ]);
  await waitForLeaders(admin as never, ['t'], 5_000);
  assert.equal(admin.calls, 5);
});

test('partitions still without a leader at the deadline: the error names the topic', async () => {
  const admin = scriptedAdmin([topicT(-1)]);
  await assert.rejects(waitForLeaders(admin as never, ['t'], 300), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'KAFKA_NO_LEADER');
    assert.match(err.message, /created the topics t, but after 0.3 s/);
    return true;
  });
});

test('any other error is not waited out', async () => {
  const admin = scriptedAdmin([kafkaError('TOPIC_AUTHORIZATION_FAILED')]);
  await assert.rejects(waitForLeaders(admin as never, ['t'], 5_000), /TOPIC_AUTHORIZATION_FAILED/);
  assert.equal(admin.calls, 1);
});

test('an existing topic with fewer replicas or partitions than the settings is named, with the fix', () => {
  const topic = (partitions: number, replicas: number) => ({
    name: 'hitstream.tracks',
    partitions: Array.from({ length: partitions }, () => ({
      replicas: Array.from({ length: replicas }, (_, i) => i),
    })),
  });
  assert.deepEqual(topicShortfalls(topic(4, 3), { numPartitions: 4, replicationFactor: 3 }), []);
  const [replicas, partitions, ...rest] = topicShortfalls(topic(2, 1), {
    numPartitions: 4,
    replicationFactor: 3,
  });
  assert.equal(rest.length, 0);
  assert.match(
    replicas!,
    /^topic hitstream.tracks has 1 replica, the settings ask for 3: .*kafka-reassign-partitions/,
  );
  assert.match(partitions!, /has 2 partitions, HITSTREAM_TRACKS_PARTITIONS asks for 4: at most 2 workers/);
});

test("reading a new topic's offsets is asked again while its leader does not serve it yet, and other errors are thrown", async () => {
  const { whileTopicSettles } = await import('../../lib/kafka.ts');
  let calls = 0;
  const offsets = await whileTopicSettles(() =>
    ++calls < 3 ? Promise.reject(kafkaError('NOT_LEADER_FOR_PARTITION')) : Promise.resolve([{ high: '7' }]),
  );
  assert.deepEqual(offsets, [{ high: '7' }]);
  assert.equal(calls, 3);
  await assert.rejects(
    whileTopicSettles(() => Promise.reject(kafkaError('TOPIC_AUTHORIZATION_FAILED'))),
    /TOPIC_AUTHORIZATION_FAILED/,
  );
  await assert.rejects(
    whileTopicSettles(() => Promise.reject(kafkaError('NOT_LEADER_FOR_PARTITION')), 300),
    /NOT_LEADER_FOR_PARTITION/,
    'the same error after the timeout is thrown',
  );
});
