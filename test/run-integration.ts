/**
 * Runs the integration suite against real services, found in this order:
 *   (a) KAFKA_BROKERS and CLICKHOUSE_URL from the environment;
 *   (b) testcontainers, when a Docker engine answers;
 *   (c) the native stack (`hitstream stack up`), stopped again afterwards if this run started it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadConfig } from '../lib/config.ts';
import { STACK_CLUSTER, stackHasClickhouseCluster } from '../infra/stack/clickhouse-native.ts';
import { brokerList, kafkaNodes } from '../infra/stack/kafka-native.ts';
import { stackDown, stackUp } from '../infra/stack/stack.ts';

const say = (m: string) => process.stderr.write(`test:integration: ${m}\n`);
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync('test/integration')
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/integration/${f}`);

let cleanup: () => Promise<void> = () => Promise.resolve();
const env = { ...process.env };

if (env.KAFKA_BROKERS && env.CLICKHOUSE_URL) {
  say(
    `using services from the environment: KAFKA_BROKERS=${env.KAFKA_BROKERS} CLICKHOUSE_URL=${env.CLICKHOUSE_URL}`,
  );
} else if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
  const { startContainers } = await import('./helpers/containers.ts');
  const c = await startContainers();
  Object.assign(env, { KAFKA_BROKERS: c.kafkaBrokers, CLICKHOUSE_URL: c.clickhouseUrl });
  cleanup = () => c.stop();
  say(`using testcontainers: ${c.kafkaBrokers}, ${c.clickhouseUrl}`);
} else {
  const cfg = loadConfig();
  const t0 = performance.now();
  const r = await stackUp(cfg, say);
  say(
    `native stack: kafka ${r.kafka.action} (${r.kafka.seconds.toFixed(1)} s), clickhouse ${r.clickhouse.action} (${r.clickhouse.seconds.toFixed(1)} s), ${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
  );
  Object.assign(env, {
    KAFKA_BROKERS: brokerList(kafkaNodes(cfg)).join(','),
    CLICKHOUSE_URL: `http://127.0.0.1:${cfg.clickhouseHttpPort}`,
    ...(stackHasClickhouseCluster(cfg) ? { HITSTREAM_CLICKHOUSE_CLUSTER: STACK_CLUSTER } : {}),
  });
  if (r.kafka.action === 'started' || r.clickhouse.action === 'started')
    cleanup = async () => {
      await stackDown(cfg);
      say('native stack stopped');
    };
}

// One file at a time: the services are shared and the machine has two cores. A file still running
// after 15 minutes fails, named, and is killed: a process kept alive by a client that would not
// stop once hung CI until its 90-minute limit (the whole suite takes ~14 minutes).
const FILE_TIMEOUT_MS = 15 * 60_000;
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${FILE_TIMEOUT_MS}`, ...files],
  {
    stdio: 'inherit',
    env,
  },
);
await cleanup();
process.exitCode = run.status ?? 1;
