/**
 * Real worker processes: two share the partitions of one group; one is SIGKILLed mid-replay and
 * restarted; the stored predictions are still exactly 4 per event, none missing, none doubled.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { eventually, isolatedPipeline, testKafka } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
const children = new Set<ChildProcess>();
const startWorker = () => {
  const c = spawn(process.execPath, ['bin/hitstream.js', 'worker'], {
    env: p.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
};
const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) =>
    c.exitCode !== null || c.signalCode ? r(c.exitCode) : c.once('exit', (code) => r(code)),
  );

before(async () => {
  p = await isolatedPipeline(4);
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await p.cleanup();
});

async function groupMembers(): Promise<number[][]> {
  const admin = testKafka(p.cfg).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([p.cfg.consumerGroup]);
    const { AssignerProtocol } = await import('kafkajs');
    return (groups[0]?.members ?? []).map(
      (m) =>
        AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[p.cfg.topicTracks] ?? [],
    );
  } finally {
    await admin.disconnect();
  }
}

test('two workers split the partitions; a SIGKILLed worker, restarted, leaves exactly 4 rows per event', async () => {
  const a = startWorker();
  startWorker();
  const members = await eventually(
    groupMembers,
    (m) => m.length === 2 && m.every((parts) => parts.length > 0),
    90_000,
  );
  assert.equal(members.length, 2, 'two members in the group');
  assert.deepEqual(
    members.flat().sort(),
    [0, 1, 2, 3],
    `partitions split between them: ${JSON.stringify(members)}`,
  );

  const N = 2000;
  const publisher = await createPublisher(p.cfg);
  const replay = replayCsv(publisher, {
    path: 'data/spotify_tracks_sample.csv',
    limit: N,
    rate: 800,
    quiet: true,
  });
  // Kill one worker once it has written something but long before the replay ends.
  await eventually(
    () => p.count('SELECT count() FROM predictions'),
    (n) => n > 200,
    60_000,
  );
  a.kill('SIGKILL');
  await exited(a);
  const a2 = startWorker();
  const summary = await replay;
  await publisher.close();
  assert.equal(summary.sent, N);

  const distinct = await eventually(
    () => p.count('SELECT count() FROM predictions FINAL'),
    (n) => n >= 4 * N,
    120_000,
  );
  assert.equal(distinct, 4 * N, 'no prediction row missing or doubled under FINAL');
  assert.equal(await p.count('SELECT uniqExact(event_id) FROM predictions'), N, 'every event scored');
  assert.equal(await p.count('SELECT uniqExact(event_id, model) FROM predictions'), 4 * N);
  assert.equal(await p.count('SELECT count() FROM track_events FINAL'), N);
  const raw = await p.count('SELECT count() FROM predictions');
  process.stderr.write(
    `crash test: ${raw - 4 * N} re-delivered prediction rows collapsed by ReplacingMergeTree\n`,
  );

  a2.kill('SIGTERM');
  assert.equal(await exited(a2), 0, 'SIGTERM: the worker finishes its batch, commits and exits 0');
});
