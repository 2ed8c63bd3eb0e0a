/**
 * `hitstream stack up | status | down` as a user runs them, on ports and a folder of its own so it
 * never touches the stack the other tests use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isAlive } from '../../infra/stack/processes.ts';

const home = mkdtempSync(join(tmpdir(), 'hitstream-stack-'));
const env = {
  ...process.env,
  HITSTREAM_HOME: home,
  HITSTREAM_KAFKA_PORT: '29092',
  HITSTREAM_KAFKA_CONTROLLER_PORT: '29093',
  HITSTREAM_CLICKHOUSE_HTTP_PORT: '28123',
  HITSTREAM_CLICKHOUSE_TCP_PORT: '29000',
  HITSTREAM_KAFKA_SASL_SSL_PORT: '29094',
  HITSTREAM_KAFKA_MTLS_PORT: '29095',
  HITSTREAM_CLICKHOUSE_HTTPS_PORT: '28443',
  HITSTREAM_KAFKA_HEAP_MB: '512',
};
const hitstream = (...args: string[]) =>
  spawnSync('node', ['bin/hitstream.js', ...args], { env, encoding: 'utf8' });
const pids = () =>
  ['kafka', 'clickhouse'].map((n) => Number(readFileSync(join(home, 'run', `${n}.pid`), 'utf8')));

after(() => {
  hitstream('stack', 'down');
  rmSync(home, { recursive: true, force: true });
});

test('stack up starts both services, a second up is a no-op, down leaves no stack process', () => {
  const first = hitstream('stack', 'up');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /kafka started in/);
  assert.match(first.stderr, /clickhouse started in/);
  const started = pids();
  assert.ok(started.every(isAlive));

  const second = hitstream('stack', 'up');
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /kafka already running \(nothing to do\)/);
  assert.match(second.stderr, /clickhouse already running \(nothing to do\)/);
  assert.deepEqual(pids(), started, 'the same processes still serve');

  const status = hitstream('stack', 'status');
  assert.equal(status.status, 0);
  assert.match(status.stdout, /kafka .* answering at 127\.0\.0\.1:29092/);
  assert.match(status.stdout, /clickhouse .* answering at http:\/\/127\.0\.0\.1:28123/);

  const down = hitstream('stack', 'down');
  assert.equal(down.status, 0, down.stderr);
  assert.ok(
    started.every((pid) => !isAlive(pid)),
    'no stack process left running',
  );
  const after = hitstream('stack', 'status');
  assert.equal(after.status, 3, 'status reports the stack down');
});

test('a port already in use is reported with the setting to change', () => {
  const r = spawnSync('node', ['bin/hitstream.js', 'stack', 'up'], {
    env: {
      ...env,
      HITSTREAM_CLICKHOUSE_HTTP_PORT: '28124',
      HITSTREAM_CLICKHOUSE_TCP_PORT: process.env.CLICKHOUSE_URL?.match(/:(\d+)/)?.[1] ?? '8123',
    },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /port \d+ is in use .*HITSTREAM_CLICKHOUSE_TCP_PORT/);
});
