/**
 * Real worker processes: two share the partitions of one group; one is SIGKILLed mid-replay and
 * restarted, once in steady state and once in the middle of a swap to a new version; the stored
 * predictions are still exactly 4 per event (from one version), none missing, none doubled.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { copyAsVersion } from '../../bench/swap.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { VERSION_OF_ROW } from '../../warehouse/drift-sql.ts';
import { ARTIFACTS_DIR } from '../../models/model-set.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import {
  eventually,
  eventuallyStored,
  isolatedPipeline,
  testKafka,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
const children = new Set<ChildProcess>();
/** A worker process; with `logs`, its log lines (info and up) are collected there. */
const startWorker = (logs?: string[]) => {
  const c = spawn(process.execPath, ['bin/hitstream.js', 'worker'], {
    env: logs ? { ...p.env, LOG_LEVEL: 'info' } : p.env,
    stdio: ['ignore', 'ignore', logs ? 'pipe' : 'inherit'],
  });
  // Logs are JSON lines on stderr.
  c.stderr?.setEncoding('utf8').on('data', (chunk: string) => logs?.push(...chunk.split('\n')));
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

/** Whether some stored prediction was scored by `version`. */
async function versionSeen(version: string): Promise<boolean> {
  const n = await p.count(
    `SELECT count() FROM predictions WHERE ${VERSION_OF_ROW} = '${version}' AND event_time >= now() - 600`,
  );
  return n > 0;
}

/** Publishes 20 events every 500 ms until `done()`; returns how many were sent. */
async function trickleUntil(
  publisher: Awaited<ReturnType<typeof createPublisher>>,
  done: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let sent = 0;
  while (!(await done())) {
    assert.ok(Date.now() < deadline, `no event scored by the new version within ${timeoutMs / 1000} s`);
    const s = await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 20, quiet: true });
    sent += s.sent;
    await new Promise((r) => setTimeout(r, 500));
  }
  return sent;
}

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

  const stored = await eventuallyStored((q) => p.count(q), N, 120_000);
  assert.deepEqual(
    stored,
    { predictions: SCORES_PER_EVENT * N, tracks: N },
    'no row missing or doubled under FINAL',
  );
  assert.equal(await p.count('SELECT uniqExact(event_id) FROM predictions'), N, 'every event scored');
  assert.equal(await p.count('SELECT uniqExact(event_id, model) FROM predictions'), SCORES_PER_EVENT * N);
  const raw = await p.count('SELECT count() FROM predictions');
  process.stderr.write(
    `crash test: ${raw - SCORES_PER_EVENT * N} re-delivered prediction rows collapsed by ReplacingMergeTree\n`,
  );

  a2.kill('SIGTERM');
  assert.equal(await exited(a2), 0, 'SIGTERM: the worker finishes its batch, commits and exits 0');
});

test('a worker SIGKILLed while it swaps to a new version, then restarted: still 4 rows per event, each event from one version', async () => {
  // The first test's second worker is still running (on the checkout's set, which is v1).
  const lifecycle = createLifecycle(p.cfg, createLogger('test', 'silent'));
  const copy = copyAsVersion('crash-swap');
  try {
    await ensureTopics(p.cfg);
    const v1 = (await lifecycle.push(ARTIFACTS_DIR)).version;
    const v2 = (await lifecycle.push(copy.dir)).version;
    await lifecycle.promote(v1, { force: true });
    const logs: string[] = [];
    const c = startWorker(logs);
    await eventually(groupMembers, (m) => m.length === 2 && m.every((parts) => parts.length > 0), 90_000);
    const before = await p.count('SELECT uniqExact(event_id) FROM predictions');

    const N = 2000;
    const publisher = await createPublisher(p.cfg);
    const replay = replayCsv(publisher, {
      path: 'data/spotify_tracks_sample.csv',
      limit: N,
      rate: 400,
      quiet: true,
    });
    await eventually(
      () => p.count('SELECT uniqExact(event_id) FROM predictions'),
      (n) => n > before + 200,
      60_000,
    );
    await lifecycle.promote(v2, { force: true });
    // The swap (download ~50 MB from ClickHouse, load, warm up) takes seconds: kill it in there.
    await new Promise((r) => setTimeout(r, 700));
    const swappedBeforeKill = logs.some((l) => l.includes('models swapped'));
    c.kill('SIGKILL');
    await exited(c);
    assert.ok(
      logs.some((l) => l.includes('models loaded')),
      'its log is read (else the next check proves nothing)',
    );
    assert.ok(!swappedBeforeKill, 'killed during the swap, before it finished');
    const c2 = startWorker();
    const summary = await replay;
    assert.equal(summary.sent, N);
    // The replay can end before the swap does (the replay leaves in bursts of 1,000, and loading
    // a version takes seconds on a busy machine): keep a trickle of events going until v2 scores
    // one, so the check below sees both versions whatever the timing.
    const tail = await trickleUntil(publisher, () => versionSeen(v2), 90_000);
    await publisher.close();

    const total = before + N + tail;
    const distinct = await eventually(
      () => p.count('SELECT count() FROM predictions FINAL'),
      (n) => n >= SCORES_PER_EVENT * total,
      120_000,
    );
    assert.equal(distinct, SCORES_PER_EVENT * total, 'no prediction row missing or doubled under FINAL');
    assert.equal(
      await p.count(
        `SELECT count() FROM (SELECT event_id, uniqExact(model) AS m, uniqExact(${VERSION_OF_ROW}) AS v FROM predictions FINAL GROUP BY event_id) WHERE m != ${SCORES_PER_EVENT} OR v != 1`,
      ),
      0,
      'each event: every score, one version',
    );
    const rs = await p.client.query({
      query: `SELECT DISTINCT ${VERSION_OF_ROW} AS v FROM predictions FINAL WHERE event_time >= now() - 600`,
      format: 'JSONEachRow',
    });
    const seen = (await rs.json<{ v: string }>()).map((r) => r.v).sort();
    assert.deepEqual(seen, [v1, v2].sort(), 'both versions scored events of this replay');
    c2.kill('SIGTERM');
    assert.equal(await exited(c2), 0);
  } finally {
    copy.remove();
    await lifecycle.close();
  }
});
