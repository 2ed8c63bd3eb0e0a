/**
 * What integration tests run against. test/run-integration.ts resolves Kafka and ClickHouse once
 * (env, else testcontainers, else the native stack) and passes them down as KAFKA_BROKERS and
 * CLICKHOUSE_URL; tests read them here and make their own topics and databases.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { type Config, loadConfig } from '../../lib/config.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { migrate } from '../../infra/migrate.ts';
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

export function testKafka(cfg: Config) {
  return new Kafka({ brokers: cfg.kafkaBrokers, clientId: uniqueName('test'), logLevel: logLevel.NOTHING });
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
