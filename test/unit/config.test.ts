import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configToEnv, loadConfig, redactedConfig, settingsMarkdown } from '../../lib/config.ts';
import { kafkaSetupProblem, topicReplication } from '../../lib/kafka.ts';

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
  // A share of events outside [0, 1], or not a number, is refused at start, naming the setting.
  assert.throws(
    () => loadConfig({ HITSTREAM_EXPLAIN_SAMPLE: '1.5' }),
    /HITSTREAM_EXPLAIN_SAMPLE="1.5": must be between 0 and 1/,
  );
  assert.throws(
    () => loadConfig({ HITSTREAM_EXPLAIN_SAMPLE: '-0.1' }),
    /HITSTREAM_EXPLAIN_SAMPLE.*between 0 and 1/,
  );
  assert.throws(
    () => loadConfig({ HITSTREAM_EXPLAIN_SAMPLE: '1%' }),
    /HITSTREAM_EXPLAIN_SAMPLE="1%": must be a number/,
  );
  assert.equal(loadConfig({ HITSTREAM_EXPLAIN_SAMPLE: '0.25' }).explainSample, 0.25);
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

const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { field?: string }).field;
  }
  return 'no error';
};

test('security settings that only make sense together are checked at start, naming the one to fix', () => {
  const sasl = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' };
  assert.equal(loadConfig(sasl).kafkaSaslMechanism, 'plain');
  assert.equal(
    fieldOf(() => loadConfig({ ...sasl, KAFKA_SASL_PASSWORD: '' })),
    'KAFKA_SASL_PASSWORD',
  );
  assert.equal(
    fieldOf(() => loadConfig({ ...sasl, KAFKA_SASL_USERNAME: '' })),
    'KAFKA_SASL_USERNAME',
  );
  assert.equal(
    fieldOf(() => loadConfig({ ...sasl, KAFKA_SASL_MECHANISM: 'gssapi' })),
    'KAFKA_SASL_MECHANISM',
  );
  assert.equal(
    fieldOf(() => loadConfig({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })),
    'KAFKA_SECURITY_PROTOCOL',
  );
  assert.equal(
    fieldOf(() => loadConfig({ KAFKA_SSL_CA_FILE: 'package.json' })),
    'KAFKA_SSL_CA_FILE',
  );
  assert.equal(
    fieldOf(() => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: 'package.json' })),
    'KAFKA_SSL_KEY_FILE',
  );
  assert.throws(
    () => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    /KAFKA_SSL_CA_FILE="\/nonexistent\/ca.pem": no such file/,
  );
  assert.equal(
    fieldOf(() => loadConfig({ CLICKHOUSE_CA_FILE: 'package.json' })),
    'CLICKHOUSE_CA_FILE',
  );
  assert.equal(
    loadConfig({ CLICKHOUSE_URL: 'https://x:8443', CLICKHOUSE_CA_FILE: 'package.json' }).clickhouseCaFile,
    'package.json',
  );
});

test('secrets are printed as *** (set) or empty (unset), by `config` too', () => {
  const cfg = loadConfig({
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'hunter2-kafka',
    CLICKHOUSE_PASSWORD: 'hunter2-clickhouse',
  });
  const shown = redactedConfig(cfg);
  assert.equal(shown.kafkaSaslPassword, '***');
  assert.equal(shown.clickhousePassword, '***');
  assert.equal(shown.apiKey, '');
  const out = spawnSync(process.execPath, ['bin/hitstream.js', 'config'], {
    env: { ...process.env, ...configToEnv(cfg) },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  assert.doesNotMatch(out.stdout + out.stderr, /hunter2/);
  assert.match(out.stdout, /"kafkaSaslUsername": "u"/);
});

test('what a failed Kafka probe says is turned into the setting to fix, and an outage is not', () => {
  const cfg = loadConfig({
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
  });
  const field = (problem: string) => kafkaSetupProblem(problem, cfg)?.field;
  assert.equal(field('SASL SCRAM SHA512 authentication failed: invalid credentials'), 'KAFKA_SASL_PASSWORD');
  assert.equal(field('Connection error: unable to verify the first certificate'), 'KAFKA_SSL_CA_FILE');
  assert.equal(field('Connection error: self-signed certificate in certificate chain'), 'KAFKA_SSL_CA_FILE');
  assert.equal(
    field(
      'Connection error: Client network socket disconnected before secure TLS connection was established',
    ),
    'KAFKA_SECURITY_PROTOCOL',
  );
  assert.equal(
    field('Connection error: ... sslv3 alert bad certificate ... SSL alert number 42'),
    'KAFKA_SSL_CERT_FILE',
  );
  assert.equal(field('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), undefined);
  assert.equal(field('Connection timeout'), undefined);
});

test("topics' replication: 3 and 2 from three brokers, 1 and 1 below; more replicas than brokers names the setting", () => {
  const cfg = loadConfig({});
  assert.deepEqual(topicReplication(cfg, 1), { replicationFactor: 1, minInsync: 1 });
  assert.deepEqual(topicReplication(cfg, 3), { replicationFactor: 3, minInsync: 2 });
  assert.deepEqual(topicReplication(cfg, 5), { replicationFactor: 3, minInsync: 2 });
  const three = loadConfig({ HITSTREAM_TOPIC_REPLICATION_FACTOR: '3' });
  assert.throws(
    () => topicReplication(three, 1),
    /HITSTREAM_TOPIC_REPLICATION_FACTOR=3, but the cluster has 1 broker:/,
  );
  const tooMany = loadConfig({
    HITSTREAM_TOPIC_REPLICATION_FACTOR: '2',
    HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS: '3',
  });
  assert.throws(
    () => topicReplication(tooMany, 3),
    /HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS=3 exceeds the 2 replicas/,
  );
});
