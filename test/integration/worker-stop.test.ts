/**
 * Worker processes that must stop by themselves: before `migrate` (fatal at start, names the
 * fix), and on SIGTERM while ClickHouse is down (bounded by HITSTREAM_SHUTDOWN_TIMEOUT_MS,
 * nothing unstored committed, the next worker stores every event once). Uses a ClickHouse of
 * its own (own ports and folder) so stopping it does not disturb the other tests.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { migrate } from '../../infra/migrate.ts';
import { clickhouseProcess, startClickhouse } from '../../infra/stack/clickhouse-native.ts';
import { stopProcess } from '../../infra/stack/processes.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { type Config, configToEnv } from '../../lib/config.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import {
  eventually,
  eventuallyStored,
  freshTopics,
  testConfig,
  uniqueName,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

const home = mkdtempSync(join(tmpdir(), 'hitstream-stop-'));
const id = uniqueName('stop');
const SHUTDOWN_MS = 6_000;
const cfg: Config = {
  ...testConfig(),
  home,
  clickhouseHttpPort: 28224,
  clickhouseTcpPort: 29101,
  // Its own HTTPS port too: the main stack's ClickHouse holds the default one.
  clickhouseHttpsPort: 28544,
  clickhouseUrl: 'http://127.0.0.1:28224',
  clickhouseDatabase: 'hitstream',
  topicTracks: `${id}.tracks`,
  topicPredictions: `${id}.predictions`,
  topicDeadLetters: `${id}.dead`,
  consumerGroup: `${id}-scorers`,
  workerPort: 0,
  shutdownTimeoutMs: SHUTDOWN_MS,
  writeIntervalMs: 200,
};
let dropTopics: () => Promise<void>;
const children = new Set<ChildProcess>();

/** A `hitstream worker` process; `output` collects its log lines. */
function startWorker(overrides: Partial<Config> = {}) {
  const child = spawn(process.execPath, ['bin/hitstream.js', 'worker'], {
    env: { ...process.env, ...configToEnv({ ...cfg, ...overrides }), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const out = { text: '' };
  child.stdout.on('data', (d: Buffer) => (out.text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.text += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((r) =>
    child.once('exit', (code) => {
      children.delete(child);
      r({ code, at: Date.now() });
    }),
  );
  return { child, out, exited };
}

before(async () => {
  await startClickhouse(cfg, () => undefined);
  dropTopics = await freshTopics(cfg, [
    { topic: cfg.topicTracks },
    { topic: cfg.topicPredictions },
    { topic: cfg.topicDeadLetters, numPartitions: 1 },
  ]);
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stopProcess(clickhouseProcess(cfg));
  await dropTopics();
  rmSync(home, { recursive: true, force: true });
});

async function count(query: string): Promise<number> {
  const ch = createClickhouse(cfg);
  try {
    const rs = await ch.query({ query, format: 'JSONEachRow' });
    return Number(Object.values((await rs.json<Record<string, string>>())[0] ?? { n: 0 })[0]);
  } catch {
    return -1;
  } finally {
    await ch.close();
  }
}

test('a worker started before `migrate` exits non-zero within 10 s and names the fix', async () => {
  const t0 = Date.now();
  const w = startWorker();
  const { code, at } = await w.exited;
  assert.equal(code, 1);
  assert.ok(at - t0 < 10_000, `exited after ${at - t0} ms`);
  assert.match(w.out.text, /database hitstream does not exist.*run `npx hitstream migrate`/);
});

test('SIGTERM while ClickHouse is down ends the worker within the timeout; the next worker stores every event once', async () => {
  await migrate(cfg);
  const first = startWorker();
  const publisher = await createPublisher(cfg);
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 200, quiet: true });
  assert.equal(
    await eventually(
      () => count('SELECT count() FROM predictions FINAL'),
      (n) => n >= SCORES_PER_EVENT * 200,
    ),
    SCORES_PER_EVENT * 200,
  );

  await stopProcess(clickhouseProcess(cfg));
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 300, quiet: true });
  await new Promise((r) => setTimeout(r, 3_000)); // scored, published, not stored
  const t0 = Date.now();
  first.child.kill('SIGTERM');
  const { code, at } = await first.exited;
  assert.ok(at - t0 <= SHUTDOWN_MS + 2_000, `stopped after ${at - t0} ms (timeout ${SHUTDOWN_MS})`);
  assert.equal(code, 1, 'a stop that left events unstored is not a clean exit');
  assert.match(
    first.out.text,
    /events not stored and not committed: the next owner of partition \d+ re-reads from offset \d+/,
  );

  await startClickhouse(cfg, () => undefined);
  const second = startWorker();
  assert.deepEqual(
    await eventuallyStored(count, 500, 90_000),
    { predictions: SCORES_PER_EVENT * 500, tracks: 500 },
    'every event stored once',
  );
  await publisher.close();
  const t1 = Date.now();
  second.child.kill('SIGTERM');
  const end = await second.exited;
  assert.equal(end.code, 0, 'a clean stop exits 0');
  assert.ok(end.at - t1 < SHUTDOWN_MS, `clean stop took ${end.at - t1} ms`);
});
