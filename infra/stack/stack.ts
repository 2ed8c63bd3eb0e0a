/** `hitstream stack up | down | status`: the native Kafka + ClickHouse pair on loopback. */
import type { Config } from '../../lib/config.ts';
import { clickhouseAnswers, clickhouseProcess, startClickhouse } from './clickhouse-native.ts';
import { kafkaAnswers, kafkaProcess, startKafka } from './kafka-native.ts';
import { runningPid, stopProcess } from './processes.ts';

export interface ServiceStatus {
  name: 'kafka' | 'clickhouse';
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
  return { kafka, clickhouse };
}

/** Stops exactly the processes the stack started (PID files), Kafka first so it can flush. */
export async function stackDown(cfg: Config) {
  const kafka = await stopProcess(kafkaProcess(cfg));
  const clickhouse = await stopProcess(clickhouseProcess(cfg));
  return { kafka, clickhouse };
}

export async function stackStatus(cfg: Config): Promise<ServiceStatus[]> {
  const kafkaEndpoint = `127.0.0.1:${cfg.kafkaPort}`;
  const chEndpoint = `http://127.0.0.1:${cfg.clickhouseHttpPort}`;
  return [
    {
      name: 'kafka',
      pid: runningPid(kafkaProcess(cfg)),
      answering: await kafkaAnswers([kafkaEndpoint]),
      endpoint: kafkaEndpoint,
    },
    {
      name: 'clickhouse',
      pid: runningPid(clickhouseProcess(cfg)),
      answering: await clickhouseAnswers(chEndpoint),
      endpoint: chEndpoint,
    },
  ];
}
