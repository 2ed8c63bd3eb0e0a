/**
 * The feed bench end to end at a small scale, on the real stack: workers and an API in child
 * processes, the clients in theirs. Checks that it counts every message and reports CPU per
 * event for each process; the latency figures themselves are for `bench feed`, not for tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchFeed } from '../../bench/feed.ts';
import { testConfig } from '../helpers/services.ts';

test('bench feed: every prediction reaches every client, and CPU per event is reported per process', async () => {
  const result = await benchFeed(testConfig(), {
    data: 'data/spotify_tracks_sample.csv',
    clients: 2,
    rate: 50,
    seconds: 2,
    warmupSeconds: 1,
    workers: 1,
    json: true,
  });
  assert.equal(result.events, 150);
  assert.equal(result.messages_expected, 300);
  assert.equal(result.messages_received + result.dropped, 300);
  assert.ok(result.p99_ms >= result.p50_ms && result.p50_ms >= 0);
  const cpu = result.cpu_ms_per_event ?? {};
  for (const part of ['bench', 'worker1', 'api', 'clients', 'total'])
    assert.ok((cpu[part] ?? -1) >= 0, `CPU per event for ${part}: ${JSON.stringify(cpu)}`);
  const host = result.host_cpu_pct;
  assert.ok(
    host && host.busy > 0 && host.busy <= 100 && host.steal >= 0,
    `machine CPU: ${JSON.stringify(host)}`,
  );
});
