/** `hitstream stack up | down | status`: the native Kafka, ClickHouse, Prometheus and Alertmanager on loopback. */
import type { Config } from '../../lib/config.ts';
import {
  clickhouseAnswers,
  clickhouseNodeProcess,
  clickhouseNodes,
  clickhouseUrlOf,
  everyClickhouseNode,
  stackHasClickhouseCluster,
  startClickhouse,
  stopClickhouse,
} from './clickhouse-native.ts';
import { zookeeperAnswers, zookeeperProcess } from './zookeeper-native.ts';
import {
  brokerList,
  everyKafkaNode,
  kafkaAnswers,
  kafkaNodes,
  nodeProcess,
  startKafka,
  stopKafka,
} from './kafka-native.ts';
import {
  alertmanagerAnswers,
  monitoringProcess,
  prometheusAnswers,
  startAlertmanager,
  startPrometheus,
  stopMonitoring,
} from './monitoring-native.ts';
import { portOpen, runningPid } from './processes.ts';

export interface ServiceStatus {
  /** `kafka` (one node), `kafka-controller`, `kafka-1` …, `clickhouse`. */
  name: string;
  pid: number | undefined;
  answering: boolean;
  endpoint: string;
}

/** Starts what is not running yet; a second call is a no-op. Returns per-service action and seconds. */
export async function stackUp(cfg: Config, log: (msg: string) => void) {
  const timed = async (fn: () => Promise<'started' | 'running'>) => {
    const t0 = performance.now();
    const action = await fn();
    return { action, seconds: (performance.now() - t0) / 1000 };
  };
  // Sequential on purpose: on 2 cores, starting the JVM and ClickHouse at once slows both.
  const clickhouse = await timed(() => startClickhouse(cfg, log));
  const kafka = await timed(() => startKafka(cfg, log));
  // Alertmanager first: Prometheus sends it alerts from its first evaluation on. Monitoring that
  // cannot start is said, not fatal: scoring does not need it.
  const alertmanager = await optional(() => timed(() => startAlertmanager(cfg, log)));
  const prometheus = await optional(() => timed(() => startPrometheus(cfg, log)));
  return { kafka, clickhouse, prometheus, alertmanager };
}

type Started = { action: 'started' | 'running'; seconds: number };
async function optional(
  start: () => Promise<Started>,
): Promise<Started | { action: 'unavailable'; seconds: number; reason: string }> {
  try {
    return await start();
  } catch (err) {
    return { action: 'unavailable', seconds: 0, reason: (err as Error).message.split('\n')[0]! };
  }
}

/** Stops exactly the processes the stack started (PID files), Kafka first so it can flush. */
export async function stackDown(cfg: Config) {
  const monitoring = await stopMonitoring(cfg);
  const kafka = await stopKafka(cfg);
  const clickhouse = await stopClickhouse(cfg);
  return { kafka, clickhouse, monitoring };
}

/**
 * Each Kafka node that runs (or, when none does, the configured layout's), then ClickHouse. A
 * controller is "answering" when its port takes connections: it serves no Kafka clients.
 */
export async function stackStatus(cfg: Config): Promise<ServiceStatus[]> {
  const running = everyKafkaNode(cfg).filter((n) => runningPid(nodeProcess(cfg, n)) !== undefined);
  const nodes = running.length ? running : kafkaNodes(cfg);
  const kafka = await Promise.all(
    nodes.map(async (n) => {
      const endpoint = n.ports ? brokerList([n])[0]! : `127.0.0.1:${cfg.kafkaControllerPort}`;
      return {
        name: n.name,
        pid: runningPid(nodeProcess(cfg, n)),
        answering: n.ports
          ? await kafkaAnswers([endpoint])
          : await portOpen('127.0.0.1', cfg.kafkaControllerPort),
        endpoint,
      };
    }),
  );
  const runningCh = everyClickhouseNode(cfg).filter(
    (n) => runningPid(clickhouseNodeProcess(cfg, n)) !== undefined,
  );
  const clickhouse = await Promise.all(
    (runningCh.length ? runningCh : clickhouseNodes(cfg)).map(async (n) => ({
      name: n.name,
      pid: runningPid(clickhouseNodeProcess(cfg, n)),
      answering: await clickhouseAnswers(clickhouseUrlOf(n)),
      endpoint: clickhouseUrlOf(n),
    })),
  );
  const zkPid = runningPid(zookeeperProcess(cfg));
  const zookeeper =
    zkPid !== undefined || stackHasClickhouseCluster(cfg)
      ? [
          {
            name: 'zookeeper',
            pid: zkPid,
            answering: await zookeeperAnswers(cfg.zookeeperPort),
            endpoint: `127.0.0.1:${cfg.zookeeperPort}`,
          },
        ]
      : [];
  const monitoring = await Promise.all(
    (
      [
        ['prometheus', cfg.prometheusPort, prometheusAnswers],
        ['alertmanager', cfg.alertmanagerPort, alertmanagerAnswers],
      ] as const
    ).map(async ([name, port, answers]) => ({
      name,
      pid: runningPid(monitoringProcess(cfg, name)),
      answering: await answers(cfg),
      endpoint: `http://127.0.0.1:${port}`,
    })),
  );
  return [...kafka, ...zookeeper, ...clickhouse, ...monitoring];
}
