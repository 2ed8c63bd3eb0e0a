/**
 * Commands fail at once, with the setting named, when Kafka or the data file is not there
 * (instead of ~2.5 minutes of reconnect errors). No broker needed: the ports here are a closed one
 * and a server that is not Kafka.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../lib/config.ts';
import { describeError, HitstreamError } from '../../lib/errors.ts';
import { requireDataFile } from '../../lib/kaggle-csv.ts';
import { ensureTopics, requireKafka } from '../../lib/kafka.ts';

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
};

async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

const unreachable = (problem: RegExp) => (err: unknown) =>
  err instanceof HitstreamError &&
  err.code === 'KAFKA_UNREACHABLE' &&
  err.field === 'KAFKA_BROKERS' &&
  problem.test(err.message) &&
  /npx hitstream stack up/.test(err.message);

test('requireKafka names the brokers and the refusal when nothing listens', async () => {
  const port = await closedPort();
  await assert.rejects(
    requireKafka(loadConfig({ KAFKA_BROKERS: `127.0.0.1:${port}` })),
    unreachable(new RegExp(`127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED`)),
  );
});

test('requireKafka is not fooled by a port that accepts connections but is not Kafka', async () => {
  const server = createServer((socket) => socket.destroy());
  const port = await listen(server);
  try {
    await assert.rejects(
      requireKafka(loadConfig({ KAFKA_BROKERS: `127.0.0.1:${port}` })),
      unreachable(/Connection closed/),
    );
  } finally {
    server.close();
  }
});

test('a service waits for the broker, saying so, and then gives up with the same error', async () => {
  const port = await closedPort();
  const said: string[][] = [];
  await assert.rejects(
    requireKafka(loadConfig({ KAFKA_BROKERS: `127.0.0.1:${port}` }), {
      waitMs: 2_500,
      onWait: (problem, brokers) => said.push([problem, ...brokers]),
    }),
    unreachable(/ECONNREFUSED/),
  );
  assert.equal(said.length, 1, 'one line per ~10 s of waiting');
  assert.match(said[0]![0]!, /ECONNREFUSED/);
  assert.equal(said[0]![1], `127.0.0.1:${port}`);
});

test('ensureTopics, the first Kafka call of publish, replay and up, checks first', async () => {
  const port = await closedPort();
  await assert.rejects(
    ensureTopics(loadConfig({ KAFKA_BROKERS: `127.0.0.1:${port}` })),
    unreachable(/ECONNREFUSED/),
  );
});

test('requireDataFile rejects a missing path and a directory, naming --data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-pre-'));
  for (const path of [join(dir, 'missing.csv'), dir])
    await assert.rejects(
      requireDataFile(path),
      (err: unknown) =>
        err instanceof HitstreamError &&
        err.code === 'DATA_NOT_FOUND' &&
        err.field === '--data' &&
        err.message.includes(path),
    );
});

test('describeError says a cause once when the message already carries it', () => {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:9092');
  assert.equal(
    describeError(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { cause })),
    'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
  );
  assert.equal(
    describeError(new Error('insert failed', { cause })),
    'insert failed: connect ECONNREFUSED 127.0.0.1:9092',
  );
});

test('the CLI: every command checks --data before it starts anything, publish reports an unreachable broker in one line', async () => {
  const port = await closedPort();
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ['bin/hitstream.js', ...args], {
      env: { ...process.env, KAFKA_BROKERS: `127.0.0.1:${port}` },
    }).then(
      () => assert.fail('the command should fail'),
      (err: { code: number; stderr: string }) => err,
    );
  for (const command of [['replay'], ['bench', 'feed'], ['train']]) {
    const failed = await run([...command, '--data', '/nonexistent/tracks.csv']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^hitstream: cannot read \/nonexistent\/tracks\.csv.*\[DATA_NOT_FOUND\]\n$/);
  }
  const publish = await run(['publish', '{"track_id": "t1"}']);
  assert.equal(publish.code, 1);
  assert.match(
    publish.stderr,
    /^hitstream: no Kafka broker answers at 127\.0\.0\.1:\d+ .*\[KAFKA_UNREACHABLE\]\n$/,
  );
});
