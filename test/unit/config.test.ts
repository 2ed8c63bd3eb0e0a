import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configToEnv, loadConfig, settingsMarkdown } from '../../lib/config.ts';

test('defaults apply when nothing is set', () => {
  const cfg = loadConfig({});
  assert.deepEqual(cfg.kafkaBrokers, ['127.0.0.1:9092']);
  assert.equal(cfg.tracksPartitions, 4);
  assert.equal(cfg.allowApt, true);
});

test('values are parsed and typed', () => {
  const cfg = loadConfig({
    KAFKA_BROKERS: 'a:1, b:2',
    HITSTREAM_TRACKS_PARTITIONS: '8',
    HITSTREAM_ALLOW_APT: 'no',
  });
  assert.deepEqual(cfg.kafkaBrokers, ['a:1', 'b:2']);
  assert.equal(cfg.tracksPartitions, 8);
  assert.equal(cfg.allowApt, false);
});

test('a bad value is rejected with the variable named', () => {
  assert.throws(
    () => loadConfig({ HITSTREAM_KAFKA_PORT: 'ninety' }),
    /HITSTREAM_KAFKA_PORT="ninety": must be a whole number/,
  );
  assert.throws(() => loadConfig({ HITSTREAM_API_PORT: '70000' }), /HITSTREAM_API_PORT.*between 0 and 65535/);
  assert.throws(() => loadConfig({ HITSTREAM_ALLOW_APT: 'maybe' }), /HITSTREAM_ALLOW_APT.*true or false/);
  assert.throws(
    () => loadConfig({ HITSTREAM_RF_PREDICTOR: 'sklearn' }),
    /HITSTREAM_RF_PREDICTOR="sklearn": must be one of compact, ml-random-forest/,
  );
});

test('README documents every setting (the table is generated from the code)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.ok(
    readme.includes(settingsMarkdown()),
    'README.md configuration table is out of date: run `npx hitstream config --markdown`',
  );
});

test('configToEnv is the inverse of loadConfig (what child processes are started with)', () => {
  const cfg = loadConfig({
    KAFKA_BROKERS: 'a:1,b:2',
    HITSTREAM_WORKER_PORT: '0',
    HITSTREAM_ALLOW_APT: 'false',
    CLICKHOUSE_DATABASE: 'x_1',
  });
  assert.deepEqual(loadConfig(configToEnv(cfg)), cfg);
});

test('the TensorFlow.js backend is the one HITSTREAM_TF_BACKEND names, or the process says why not', () => {
  const run = (backend: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./models/tf-backend.ts').then((m) => m.tfReady()).then((b) => console.log(b))",
      ],
      { env: { ...process.env, HITSTREAM_TF_BACKEND: backend, LOG_LEVEL: 'silent' }, encoding: 'utf8' },
    );
  assert.equal(run('wasm').stdout.trim(), 'wasm');
  // tfjs-node is not a dependency (and does not install here): no silent fallback to wasm.
  const native = run('tensorflow');
  assert.notEqual(native.status, 0);
  assert.match(native.stderr, /HITSTREAM_TF_BACKEND=tensorflow: @tensorflow\/tfjs-node does not load/);
  assert.throws(() => loadConfig({ HITSTREAM_TF_BACKEND: 'gpu' }), /HITSTREAM_TF_BACKEND/);
});
