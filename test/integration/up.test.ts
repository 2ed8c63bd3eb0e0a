/**
 * `hitstream up` (what `npm start` runs) as a user runs it, against the test stack: with
 * KAFKA_BROKERS and CLICKHOUSE_URL set it starts no stack of its own. Topics, group and database
 * are this test's own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isolatedPipeline } from '../helpers/services.ts';
import { scoreNamesOf } from '../../models/model-set.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
const servers: Server[] = [];

/** A port that is free now, or (keep = true) one held by a server until the tests end. */
async function port(keep = false): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  if (keep) servers.push(server);
  else await new Promise((r) => server.close(r));
  return port;
}

function up(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/hitstream.js', 'up', '--workers', '1', '--exit', ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

before(async () => {
  p = await isolatedPipeline(2);
});
after(async () => {
  for (const s of servers) s.close();
  await p.cleanup();
});

test('up replays a file through worker, API and ClickHouse, reports it, and stops what it started', async () => {
  const rows = readFileSync('data/spotify_tracks_sample.csv', 'utf8').split('\n').slice(0, 41);
  const data = join(mkdtempSync(join(tmpdir(), 'hs-up-')), 'forty.csv');
  writeFileSync(data, `${rows.join('\n')}\n`);
  const env = {
    ...p.env,
    LOG_LEVEL: 'info',
    HITSTREAM_WORKER_PORT: String(await port()),
    HITSTREAM_API_PORT: String(await port()),
  };
  const r = await up(['--data', data], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /up: 1 workers ready; API and live feed on /);
  const scores = scoreNamesOf();
  assert.ok(
    r.stderr.includes(
      `up: ${40 * scores.length} prediction rows for 40 events (${scores.length} scores each: ${scores.join(', ')}) in ClickHouse`,
    ),
    r.stderr,
  );
  assert.equal(await p.count('SELECT count() FROM predictions FINAL'), 40 * scores.length);
  // Not on a terminal: the services' log lines pass through as JSON, unprefixed.
  const serviceLines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
  assert.ok(serviceLines.length > 0, 'the services log');
  assert.ok(
    serviceLines.every((l) => JSON.parse(l) !== null),
    'JSON lines',
  );
  assert.doesNotMatch(r.stderr, /^(worker-1|api) +\| /m);
});

test('up on a terminal (a pseudo-terminal from `script`): each service’s lines behind its name, pretty-printed, then the URL block', async () => {
  const rows = readFileSync('data/spotify_tracks_sample.csv', 'utf8').split('\n').slice(0, 11);
  const data = join(mkdtempSync(join(tmpdir(), 'hs-up-')), 'ten.csv');
  writeFileSync(data, `${rows.join('\n')}\n`);
  const apiPort = await port();
  const env = {
    ...p.env,
    LOG_LEVEL: 'info',
    HITSTREAM_WORKER_PORT: String(await port()),
    HITSTREAM_API_PORT: String(apiPort),
  };
  const command = `${process.execPath} bin/hitstream.js up --workers 1 --exit --data ${data}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
  assert.equal(code, 0, plain);
  assert.match(plain, /^worker-1 +\| \[\d\d:\d\d:\d\d\] INFO: models loaded/m);
  assert.match(plain, /^api +\| \[\d\d:\d\d:\d\d\] INFO: API listening/m);
  assert.doesNotMatch(plain, /^(worker-1|api) +\| \{"level"/m, 'no raw JSON on a terminal');
  assert.doesNotMatch(plain, /incoming request/, 'request logs are at debug');
  for (const page of ['live.html', 'whatif.html', 'models.html', 'dashboards.html', 'docs'])
    assert.match(plain, new RegExp(`^up: +\\S.* http://127\\.0\\.0\\.1:${apiPort}/${page}$`, 'm'), page);
});

test('up names a service that cannot start (the API port is taken) and stops the rest', async () => {
  const taken = await port(true);
  const env = { ...p.env, HITSTREAM_WORKER_PORT: String(await port()), HITSTREAM_API_PORT: String(taken) };
  const r = await up(['--no-replay'], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /EADDRINUSE/);
  assert.match(r.stderr, new RegExp(`up: API \\(HITSTREAM_API_PORT ${taken}\\) exited; its log is above`));
  assert.doesNotMatch(r.stderr, /API and live feed on/);
});
