/**
 * Loading off the scoring thread: the decoded trees cross threads by transfer (their buffers
 * leave the sender), score exactly as the loaders' own decoding does, and a thread that fails
 * or dies rejects with why. The whole path (download in the thread, a failed swap keeping the old
 * version) runs against ClickHouse and Kafka in test/integration/model-lifecycle.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { loadConfig } from '../../lib/config.ts';
import { ARTIFACTS_DIR, loadModels } from '../../models/model-set.ts';
import { decodeTrees, type DecodedTrees, treeBuffers } from '../../models/tree-decoding.ts';
import { fetchVersionInThread } from '../../registry/load-thread.ts';

const rows = [
  { danceability: 0.6, energy: 0.7, loudness: -6, speechiness: 0.05, acousticness: 0.2 },
  { danceability: 0.3, energy: 0.2, loudness: -15, speechiness: 0.4, acousticness: 0.9 },
].map((r) => ({
  ...r,
  instrumentalness: 0,
  liveness: 0.1,
  valence: 0.5,
  tempo: 120,
  duration_ms: 200_000,
  key: 1,
  mode: 1,
  time_signature: 4,
  explicit: false,
  track_genre: 'pop',
}));

test('decoded trees are transferred, not copied, and score as the loaders decode them', async () => {
  const decoded = await decodeTrees(ARTIFACTS_DIR);
  const buffers = treeBuffers(decoded);
  assert.ok(buffers.length > decoded.rf.length, 'one buffer per array, each once');
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<DecodedTrees>((resolve) => port2.once('message', resolve));
  port1.postMessage(decoded, buffers);
  const arrived = await received;
  port1.close();
  assert.equal(decoded.rf[0]!.value.byteLength, 0, "the sender's forest arrays are detached");
  assert.equal(decoded.xgb.value.byteLength, 0, "the sender's boosted trees are detached");
  const fromThread = await loadModels(ARTIFACTS_DIR, { decoded: arrived });
  const ownDecoding = await loadModels(ARTIFACTS_DIR);
  const a = await fromThread.predictBatch(rows);
  const b = await ownDecoding.predictBatch(rows);
  assert.deepEqual(a.scores, b.scores);
});

test('a load thread that fails, or dies, rejects naming the version', async () => {
  const input = { cfg: loadConfig({}), version: 'v-test', parent: '/nonexistent' };
  await assert.rejects(
    fetchVersionInThread(
      input,
      `require('node:worker_threads').parentPort.postMessage({ ok: false, code: 'version_corrupt', message: 'version v-test: rf/forest.bin.gz does not match its checksum' })`,
    ),
    (err: Error & { code?: string }) => err.code === 'version_corrupt' && /v-test/.test(err.message),
  );
  await assert.rejects(
    fetchVersionInThread(input, `throw new Error('out of memory')`),
    /loading v-test in a worker thread failed: out of memory/,
  );
  await assert.rejects(fetchVersionInThread(input, `process.exit(3)`), /thread loading v-test exited \(3\)/);
});
