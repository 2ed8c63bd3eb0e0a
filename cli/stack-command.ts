import { relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../lib/config.ts';
import { brokerList, kafkaNodes, MAX_STACK_BROKERS } from '../infra/stack/kafka-native.ts';
import {
  clickhouseNodes,
  clickhouseUrlOf,
  MAX_STACK_REPLICAS,
  MAX_STACK_SERVERS,
  MAX_STACK_SHARDS,
  STACK_CLUSTER,
  stackHasClickhouseCluster,
} from '../infra/stack/clickhouse-native.ts';
import { stackPaths } from '../infra/stack/paths.ts';
import { alertmanagerUrlOf, prometheusUrlOf } from '../infra/stack/monitoring-native.ts';
import { HitstreamError } from '../lib/errors.ts';
import { stackDown, stackStatus, stackUp } from '../infra/stack/stack.ts';

const say = (msg: string) => process.stderr.write(`stack: ${msg}\n`);

function parseCount(option: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new HitstreamError(
      'bad_option',
      `${option}: expected a whole number from 1 to ${max}, got ${JSON.stringify(text)}`,
      {
        field: option,
      },
    );
  return n;
}

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description('Start, stop or inspect the native stack: Kafka, ClickHouse, Prometheus, Alertmanager');
  stack
    .command('up')
    .description(
      'Start Kafka (KRaft), ClickHouse, Alertmanager and Prometheus on loopback; a no-op for what already runs',
    )
    .option(
      '--brokers <n>',
      `Kafka brokers: 1 (one node) or up to ${MAX_STACK_BROKERS} (a replicated cluster with one controller); HITSTREAM_STACK_KAFKA_BROKERS`,
    )
    .option(
      '--clickhouse-replicas <n>',
      `ClickHouse servers: 1, or up to ${MAX_STACK_REPLICAS} replicas of cluster ${STACK_CLUSTER} with a ZooKeeper; HITSTREAM_STACK_CLICKHOUSE_REPLICAS`,
    )
    .option(
      '--clickhouse-shards <n>',
      `ClickHouse shards of cluster ${STACK_CLUSTER} (Distributed tables), each of --clickhouse-replicas servers, ${MAX_STACK_SERVERS} servers at most; HITSTREAM_STACK_CLICKHOUSE_SHARDS`,
    )
    .action(async (opts: { brokers?: string; clickhouseReplicas?: string; clickhouseShards?: string }) => {
      const cfg = loadConfig();
      if (opts.brokers !== undefined)
        cfg.stackKafkaBrokers = parseCount('--brokers', opts.brokers, MAX_STACK_BROKERS);
      if (opts.clickhouseReplicas !== undefined)
        cfg.stackClickhouseReplicas = parseCount(
          '--clickhouse-replicas',
          opts.clickhouseReplicas,
          MAX_STACK_REPLICAS,
        );
      if (opts.clickhouseShards !== undefined)
        cfg.stackClickhouseShards = parseCount(
          '--clickhouse-shards',
          opts.clickhouseShards,
          MAX_STACK_SHARDS,
        );
      clickhouseNodes(cfg); // refuses more servers than the stack runs, before anything starts
      const r = await stackUp(cfg, say);
      const kafkaName = cfg.stackKafkaBrokers > 1 ? `kafka (${cfg.stackKafkaBrokers} brokers)` : 'kafka';
      for (const [name, s] of Object.entries(r))
        say(
          `${name === 'kafka' ? kafkaName : name} ${
            s.action === 'started'
              ? `started in ${s.seconds.toFixed(1)} s`
              : s.action === 'running'
                ? 'already running (nothing to do)'
                : `did not start: ${'reason' in s ? s.reason : ''} (scoring does not need it; alerts will not be sent)`
          }`,
        );
      const replicas = clickhouseNodes(cfg);
      say(
        `KAFKA_BROKERS=${brokerList(kafkaNodes(cfg)).join(',')} CLICKHOUSE_URL=${clickhouseUrlOf(replicas[0]!)}` +
          (stackHasClickhouseCluster(cfg)
            ? ` HITSTREAM_CLICKHOUSE_CLUSTER=${STACK_CLUSTER} (${cfg.stackClickhouseShards} shard(s) × ${cfg.stackClickhouseReplicas} replica(s): ${replicas.map(clickhouseUrlOf).join(', ')})`
            : ''),
      );
      say(
        `Prometheus ${prometheusUrlOf(cfg)} (rules: alerts/generated/prometheus-rules.yml), Alertmanager ${alertmanagerUrlOf(cfg)} (routes to the API's POST /alerts/webhook)`,
      );
      const tls = relative(process.cwd(), stackPaths(cfg).tls) || '.';
      const secure = kafkaNodes(cfg).flatMap((n) => (n.ports ? [n.ports] : []));
      say(
        `secure, with the stack's CA ${tls}/ca.pem, user hitstream and the password in ${tls}/password: ` +
          `Kafka SASL_SSL (PLAIN, SCRAM-SHA-256/512) at ${secure.map((p) => `127.0.0.1:${p.saslSsl}`).join(',')}, ` +
          `mutual TLS at ${secure.map((p) => `127.0.0.1:${p.mtls}`).join(',')} (${tls}/client.pem, client.key), ` +
          `ClickHouse https://127.0.0.1:${cfg.clickhouseHttpsPort}`,
      );
    });
  stack
    .command('down')
    .description('Stop the processes `stack up` started (by PID file, never by name)')
    .action(async () => {
      const r = await stackDown(loadConfig());
      say(r.kafka.length ? `${r.kafka.join(', ')} stopped` : 'kafka was not running');
      say(r.clickhouse.length ? `${r.clickhouse.join(', ')} stopped` : 'clickhouse was not running');
      say(
        r.monitoring.length
          ? `${r.monitoring.join(', ')} stopped`
          : 'prometheus and alertmanager were not running',
      );
    });
  stack
    .command('status')
    .description('Show each service: PID and whether it answers')
    .action(async () => {
      const rows = await stackStatus(loadConfig());
      for (const s of rows)
        process.stdout.write(
          `${s.name.padEnd(17)} ${s.pid ? `pid ${s.pid}` : 'not started by hitstream'}  ${s.answering ? 'answering' : 'not answering'} at ${s.endpoint}\n`,
        );
      if (!rows.every((s) => s.answering)) process.exitCode = 3;
    });
}
