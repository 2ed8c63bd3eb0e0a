/**
 * What integration tests run against. test/run-integration.ts resolves Kafka and ClickHouse once
 * (env, else testcontainers, else the native stack) and passes them down as KAFKA_BROKERS and
 * CLICKHOUSE_URL; tests read them here and make their own topics and databases.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import '../../bench/kafkajs-negative-timer.ts';
import { type Config, configToEnv, loadConfig } from '../../lib/config.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { clickhouseNodes, clickhouseUrlOf, STACK_CLUSTER } from '../../infra/stack/clickhouse-native.ts';
import { kafkaSecurity } from '../../lib/kafka.ts';
import { migrate } from '../../infra/migrate.ts';
import { scoreNamesOf } from '../../models/model-set.ts';
import { ident, sql } from '../../lib/sql.ts';

export function testConfig(overrides: Partial<Config> = {}): Config {
  if (!process.env.KAFKA_BROKERS || !process.env.CLICKHOUSE_URL)
    throw new Error(
      'integration tests need KAFKA_BROKERS and CLICKHOUSE_URL: run them with `npm run test:integration`',
    );
  return { ...loadConfig(), ...overrides };
}

/** A name no other test (or earlier run) uses: `prefix_1a2b3c4d...`. */
export const uniqueName = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;

/**
 * kafkajs, for the tests' own producing and reading: a client independent of the one hitstream
 * runs on (@platformatic/kafka), so a fault in hitstream's use of it cannot hide itself.
 */
export function testKafka(cfg: Config) {
  const { ssl, sasl } = kafkaSecurity(cfg);
  return new Kafka({
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl: sasl as SASLOptions } : {}),
    brokers: cfg.kafkaBrokers,
    clientId: uniqueName('test'),
    logLevel: logLevel.NOTHING,
  });
}

/** The single number a query such as `SELECT count() …` answers (0 for no row). */
export async function countOf(client: ClickHouseClient, query: string): Promise<number> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, string>>();
  return Number(Object.values(row ?? { n: 0 })[0]);
}

/**
 * A config for a ClickHouse cluster of the test's own (`stack up` layout, own ports, home and
 * database, cluster `hitstream`), its topics its own too; `servers` lists the nodes.
 */
export function clusterTestConfig(opts: {
  name: string;
  home: string;
  shards: number;
  replicas: number;
  httpPort: number;
  tcpPort: number;
  httpsPort: number;
  zookeeperPort: number;
}) {
  const base: Config = {
    ...testConfig(),
    home: opts.home,
    stackClickhouseShards: opts.shards,
    stackClickhouseReplicas: opts.replicas,
    clickhouseHttpPort: opts.httpPort,
    clickhouseTcpPort: opts.tcpPort,
    clickhouseHttpsPort: opts.httpsPort,
    zookeeperPort: opts.zookeeperPort,
    clickhouseCluster: STACK_CLUSTER,
    clickhouseDatabase: uniqueName(`hs_${opts.name}`),
  };
  const servers = clickhouseNodes(base);
  const cfg: Config = {
    ...base,
    clickhouseUrl: clickhouseUrlOf(servers[0]!),
    ...ownTopics(uniqueName(opts.name)),
  };
  return { cfg, servers };
}

/** Topic and group names of a test's own, from its unique id. */
export const ownTopics = (id: string) => ({
  topicTracks: `${id}.tracks`,
  topicPredictions: `${id}.predictions`,
  topicDeadLetters: `${id}.dead`,
  topicModels: `${id}.models`,
  topicLabels: `${id}.labels`,
  consumerGroup: `${id}-scorers`,
});

/** Deletes the test's topics (best effort: a topic never created is no error). */
export async function deleteOwnTopics(cfg: Config): Promise<void> {
  const admin = testKafka(cfg).admin();
  await admin.connect();
  await admin
    .deleteTopics({
      topics: [cfg.topicTracks, cfg.topicPredictions, cfg.topicDeadLetters, cfg.topicModels, cfg.topicLabels],
    })
    .catch(() => undefined);
  await admin.disconnect();
}

/** A fresh, migrated database; `drop()` removes it. */
export async function freshDatabase(cfg: Config) {
  const database = uniqueName('hs_test');
  await migrate(cfg, database);
  const dbCfg = { ...cfg, clickhouseDatabase: database };
  return {
    cfg: dbCfg,
    database,
    client: createClickhouse(dbCfg),
    async drop() {
      const server = createClickhouse(cfg, { database: null });
      await server.command({ query: sql`DROP DATABASE IF EXISTS ${ident(database)}` });
      await server.close();
    },
  };
}

/** Creates topics and returns a function that deletes them. */
export async function freshTopics(cfg: Config, topics: { topic: string; numPartitions?: number }[]) {
  const admin = testKafka(cfg).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((t) => ({ numPartitions: 4, ...t })), waitForLeaders: true });
  return async () => {
    await admin.deleteTopics({ topics: topics.map((t) => t.topic) }).catch(() => undefined);
    await admin.disconnect();
  };
}

/** A config whose topics, group and database are this test's own; `cleanup()` removes them. */
export async function isolatedPipeline(partitions = 4) {
  const base = testConfig();
  const id = uniqueName('p');
  const db = await freshDatabase(base);
  const cfg: Config = {
    ...db.cfg,
    topicTracks: `${id}.tracks`,
    topicPredictions: `${id}.predictions`,
    topicDeadLetters: `${id}.dead`,
    topicAlerts: `${id}.alerts`,
    topicLabels: `${id}.labels`,
    // Created when a child process ensures its topics (the roles of other tests' registries are
    // not this one's).
    topicModels: `${id}.models`,
    consumerGroup: `${id}-scorers`,
    tracksPartitions: partitions,
    workerPort: 0,
  };
  const dropTopics = await freshTopics(cfg, [
    { topic: cfg.topicTracks, numPartitions: partitions },
    { topic: cfg.topicPredictions, numPartitions: partitions },
    { topic: cfg.topicDeadLetters, numPartitions: 1 },
    { topic: cfg.topicAlerts, numPartitions: 1 },
    { topic: cfg.topicLabels, numPartitions: partitions },
  ]);
  return {
    cfg,
    client: db.client,
    /** Environment for a child `hitstream` process using this pipeline. */
    env: {
      ...process.env,
      ...configToEnv(cfg),
      LOG_LEVEL: 'warn',
    },
    count: (query: string) => countOf(db.client, query),
    async cleanup() {
      await dropTopics();
      const admin = testKafka(cfg).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [cfg.topicModels] }).catch(() => undefined);
      await admin.disconnect();
      await db.client.close();
      await db.drop();
    },
  };
}

/**
 * Prediction rows per event with the checkout's models: one per model, and one for the ensemble
 * when training published it (models/artifacts/ensemble.json).
 */
export const SCORES_PER_EVENT = scoreNamesOf().length;

/**
 * Waits until `events` events are stored: their prediction rows (SCORES_PER_EVENT each) *and* their track row. A
 * write inserts into its tables concurrently, so the predictions can be complete a moment
 * before the track rows are (CI once read 76 of 300 there).
 */
export async function eventuallyStored(
  count: (query: string) => Promise<number>,
  events: number,
  timeoutMs = 60_000,
): Promise<{ predictions: number; tracks: number }> {
  return eventually(
    async () => ({
      predictions: await count('SELECT count() FROM predictions FINAL'),
      tracks: await count('SELECT count() FROM track_events FINAL'),
    }),
    (s) => s.predictions >= SCORES_PER_EVENT * events && s.tracks >= events,
    timeoutMs,
  );
}

/** Polls until `check` is true or the time is up; returns the last value seen. */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    v = await read();
  }
  return v;
}
