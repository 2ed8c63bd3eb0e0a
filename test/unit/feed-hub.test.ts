import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explanationMessages } from '../../api/feed/explanations-source.ts';
import { type FeedClient, FeedHub, RecentIds } from '../../api/feed/hub.ts';
import type { ScoredEvent } from '../../schemas/prediction.ts';

const event = (i: number, genre = 'pop', score = 50): ScoredEvent => ({
  event_id: `e${i}`,
  track_id: `t${i}`,
  track_genre: genre,
  features: {} as ScoredEvent['features'],
  scores: { rf: score, xgb: score, mlp: score, tabnet: score },
  model_versions: {},
  event_time: '2026-01-01T00:00:00Z',
  scored_at: '2026-01-01T00:00:00Z',
  latency_ms: 1,
});

function fakeClient(stuck = false) {
  const sent: { type: string; event_id?: string; count?: number; version?: string; shadow?: unknown }[] = [];
  const client: FeedClient & { sent: typeof sent; stuck: boolean } = {
    sent,
    stuck,
    send: (t) => sent.push(JSON.parse(t.toString()) as (typeof sent)[number]),
    bufferedAmount: () => (client.stuck ? 10 << 20 : 0),
  };
  return client;
}

test('a slow client loses its oldest messages, is told how many, and never holds back the others', () => {
  const hub = new FeedHub(100);
  const fast = fakeClient();
  const slow = fakeClient(true);
  hub.add(fast);
  hub.add(slow);
  hub.publish(Array.from({ length: 250 }, (_, i) => event(i)));
  assert.equal(fast.sent.length, 250, 'the fast client got everything');
  assert.equal(slow.sent.length, 0, 'nothing could be written to the stuck socket');
  slow.stuck = false;
  hub.flushAll();
  assert.deepEqual(slow.sent[0], { type: 'missed', count: 150 });
  assert.equal(slow.sent.length, 101);
  assert.equal(slow.sent[1]?.event_id, 'e150', 'the newest 100 were kept');
  assert.equal(hub.dropped, 150);
});

test('subscribe filters by genre and minimum score of a model', () => {
  const hub = new FeedHub();
  const c = fakeClient();
  hub.add(c);
  hub.setFilter(c, { genre: 'rock', model: 'xgb', minScore: 60 });
  hub.publish([event(1, 'rock', 70), event(2, 'pop', 90), event(3, 'rock', 40)]);
  assert.deepEqual(
    c.sent.map((m) => m.event_id),
    ['e1'],
  );
});

test('a published batch reaches each client inside one batch() call (one socket write)', () => {
  const hub = new FeedHub();
  const client = fakeClient();
  let inBatch = false;
  const batches: number[] = [];
  client.send = (t) => {
    assert.ok(inBatch, 'every frame is sent while the socket is corked');
    client.sent.push(JSON.parse(t.toString()) as (typeof client.sent)[number]);
  };
  client.batch = (sends) => {
    inBatch = true;
    const before = client.sent.length;
    sends();
    batches.push(client.sent.length - before);
    inBatch = false;
  };
  hub.add(client);
  hub.publish([event(1), event(2), event(3)]);
  hub.publish([event(4)]);
  assert.deepEqual(batches, [3, 1]);
});

test('shadow scores go only to clients that subscribe with shadow: true', () => {
  const hub = new FeedHub();
  const plain = fakeClient();
  const withShadow = fakeClient();
  hub.add(plain);
  hub.add(withShadow);
  hub.setFilter(withShadow, { shadow: true });
  const e = {
    ...event(1),
    version: 'v1',
    shadow: { version: 'v2', scores: { rf: 1, xgb: 2, mlp: 3, tabnet: 4 } },
  };
  hub.publish([e, event(2)]);
  const [a, b] = [plain.sent[0]!, withShadow.sent[0]!];
  assert.equal(a.version, 'v1');
  assert.equal(a.shadow, undefined, 'live scores only by default');
  assert.deepEqual(b.shadow, e.shadow);
  assert.equal(withShadow.sent.length, 2, 'events with no shadow version still reach a shadow subscriber');
});

test('an event delivered again (a re-scored or resent prediction) reaches clients once', () => {
  const hub = new FeedHub();
  const client = fakeClient();
  hub.add(client);
  hub.publish([event(1), event(2)]);
  hub.publish([event(2), event(3), event(1)]);
  assert.deepEqual(
    client.sent.map((m) => m.event_id),
    ['e1', 'e2', 'e3'],
  );
  assert.equal(hub.duplicates, 2);
});

test('RecentIds forgets the oldest ids beyond its capacity', () => {
  const ids = new RecentIds(2);
  assert.deepEqual(
    ['a', 'b', 'a', 'c', 'a', 'b'].map((x) => ids.add(x)),
    [true, true, false, true, true, true],
  );
});

test('explanations go only to clients that asked for them, one message per event, filtered by genre', () => {
  const hub = new FeedHub();
  const plain = fakeClient();
  const asked = fakeClient();
  const askedRock = fakeClient();
  for (const c of [plain, asked, askedRock]) hub.add(c);
  assert.equal(hub.wantsExplanations(), false, 'nothing read from ClickHouse while no one asked');
  hub.setFilter(asked, { explanations: true });
  hub.setFilter(askedRock, { explanations: true, genre: 'rock' });
  assert.equal(hub.wantsExplanations(), true);
  const row = (event_id: string, model: string, genre: string) => ({
    event_id,
    track_id: `t-${event_id}`,
    track_genre: genre,
    model,
    model_version: `${model}-v1`,
    base: 30,
    output: 42,
    features: ['energy', 'genre_popularity'],
    contributions: [2, 10],
  });
  const messages = explanationMessages([
    row('e1', 'rf', 'pop'),
    row('e1', 'xgb', 'pop'),
    row('e2', 'rf', 'rock'),
  ]);
  assert.equal(messages.length, 2, 'one message per event, its scores together');
  assert.deepEqual(messages[0]!.scores.xgb, {
    model_version: 'xgb-v1',
    base: 30,
    output: 42,
    contributions: { energy: 2, genre_popularity: 10 },
  });
  hub.publishExplanations(messages);
  assert.deepEqual(plain.sent, []);
  assert.deepEqual(
    asked.sent.map((m) => [m.type, m.event_id]),
    [
      ['explanation', 'e1'],
      ['explanation', 'e2'],
    ],
  );
  assert.deepEqual(
    askedRock.sent.map((m) => m.event_id),
    ['e2'],
  );
});
