/**
 * The pipeline over the native stack's secure listeners, as against a managed Kafka and ClickHouse
 * Cloud: a worker and a replay (real processes) over SASL_SSL (SCRAM-SHA-512, the stack's own CA)
 * and HTTPS ClickHouse with a user and password; then each setting a user gets wrong is named
 * within seconds, and the password is never in any output.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Config, configToEnv } from '../../lib/config.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { stackPaths } from '../../infra/stack/paths.ts';
import { ensureTlsMaterial, type TlsMaterial } from '../../infra/stack/tls-material.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let tls: TlsMaterial;
let secure: Config;
const children = new Set<ChildProcess>();
const output: string[] = [];

before(async () => {
  p = await isolatedPipeline();
  assert.deepEqual(
    p.cfg.kafkaBrokers,
    [`127.0.0.1:${p.cfg.kafkaPort}`],
    "this test needs the native stack's secure listeners: run it with the native stack (npx hitstream stack up)",
  );
  tls = ensureTlsMaterial(stackPaths(p.cfg).tls);
  secure = {
    ...p.cfg,
    kafkaBrokers: [`127.0.0.1:${p.cfg.kafkaSaslSslPort}`],
    kafkaSecurityProtocol: 'SASL_SSL',
    kafkaSaslMechanism: 'scram-sha-512',
    kafkaSaslUsername: tls.user,
    kafkaSaslPassword: tls.password,
    kafkaSslCaFile: tls.caFile,
    clickhouseUrl: `https://127.0.0.1:${p.cfg.clickhouseHttpsPort}`,
    clickhouseCaFile: tls.caFile,
    clickhouseUser: tls.user,
    clickhousePassword: tls.password,
  };
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await p.cleanup();
});

/** Runs `hitstream <args>` with `cfg` (plus `env`); collects everything it prints. */
function run(cfg: Config, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['bin/hitstream.js', ...args], {
    env: { ...process.env, ...configToEnv(cfg), LOG_LEVEL: 'info', HITSTREAM_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let text = '';
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<{ code: number | null; text: string; ms: number }>((resolve) => {
    const t0 = Date.now();
    child.once('exit', (code) => {
      children.delete(child);
      output.push(text);
      resolve({ code, text, ms: Date.now() - t0 });
    });
  });
  return { child, exit, text: () => text };
}

test('a worker and a replay over SASL_SSL (SCRAM-SHA-512) Kafka and HTTPS ClickHouse store every prediction', async () => {
  const worker = run(secure, ['worker']);
  // A new group reads the topic from its start, so the replay need not wait for the join.
  const replay = await run(secure, ['replay', '--data', 'data/spotify_tracks_sample.csv', '--limit', '300'])
    .exit;
  assert.equal(replay.code, 0, replay.text);
  const ch = createClickhouse(secure);
  try {
    const stored = await eventually(
      async () => {
        const rs = await ch.query({
          query: 'SELECT count() AS n FROM predictions FINAL',
          format: 'JSONEachRow',
        });
        return Number((await rs.json<{ n: string }>())[0]?.n);
      },
      (n) => n >= SCORES_PER_EVENT * 300,
      90_000,
    );
    assert.equal(stored, SCORES_PER_EVENT * 300, 'a prediction per score of each event, over HTTPS');
  } finally {
    await ch.close();
  }
  worker.child.kill('SIGTERM');
  const stopped = await worker.exit;
  assert.equal(stopped.code, 0, stopped.text.slice(-2000));
  const config = await run(secure, ['config']).exit;
  assert.match(config.text, /"kafkaSaslPassword": "\*\*\*"/);
});

/** A worker started with `cfg` must exit 1 within seconds, naming `field`. */
async function failsNaming(cfg: Config, field: string, words: RegExp) {
  const { code, text, ms } = await run(cfg, ['worker']).exit;
  assert.equal(code, 1, text);
  assert.ok(ms < 20_000, `exited after ${ms} ms`);
  const fatal = text
    .split('\n')
    .filter((l) => l.includes('"level":60'))
    .map((l) => JSON.parse(l) as { field?: string; msg: string });
  assert.equal(fatal.length, 1, text);
  assert.equal(fatal[0]!.field, field, fatal[0]!.msg);
  assert.match(fatal[0]!.msg, words);
}

test('a wrong Kafka password is named at once (KAFKA_SASL_PASSWORD)', async () => {
  await failsNaming(
    { ...secure, kafkaSaslPassword: 'not-the-password' },
    'KAFKA_SASL_PASSWORD',
    /refused the credentials/,
  );
});

test('a certificate from a CA the client does not trust is named at once (KAFKA_SSL_CA_FILE)', async () => {
  const other = ensureTlsMaterial(mkdtempSync(join(tmpdir(), 'other-ca-')));
  await failsNaming({ ...secure, kafkaSslCaFile: other.caFile }, 'KAFKA_SSL_CA_FILE', /not signed by the CA/);
});

test('a plaintext client at the TLS port is named at once (KAFKA_SECURITY_PROTOCOL)', async () => {
  await failsNaming(
    {
      ...secure,
      kafkaSecurityProtocol: 'PLAINTEXT',
      kafkaSaslUsername: '',
      kafkaSaslPassword: '',
      kafkaSslCaFile: '',
    },
    'KAFKA_SECURITY_PROTOCOL',
    /speaks TLS/,
  );
});

test('a wrong ClickHouse password, an untrusted ClickHouse certificate and http:// at its HTTPS port are named at once', async () => {
  await failsNaming({ ...secure, clickhousePassword: 'not-the-password' }, 'CLICKHOUSE_USER', /refuses us/);
  const other = ensureTlsMaterial(mkdtempSync(join(tmpdir(), 'other-ca-')));
  await failsNaming({ ...secure, clickhouseCaFile: other.caFile }, 'CLICKHOUSE_CA_FILE', /not trusted/);
  await failsNaming(
    { ...secure, clickhouseUrl: `http://127.0.0.1:${p.cfg.clickhouseHttpsPort}`, clickhouseCaFile: '' },
    'CLICKHOUSE_URL',
    /answers with TLS on that port: use https:\/\//,
  );
});

test('the password appears in no output of any process above', () => {
  assert.ok(output.length >= 6, `${output.length} processes`);
  for (const text of output) assert.ok(!text.includes(tls.password), 'the password was printed');
});
