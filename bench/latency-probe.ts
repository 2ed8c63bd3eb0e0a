/**
 * Event → predictions-topic latency, as the benches measure it: the predictions topic is switched
 * to LogAppendTime, so each prediction's record timestamp is the moment the broker appended it;
 * a consumer in the bench process reads them and keeps (append time − event time) with the time
 * it was appended. Reading the event time with a regex keeps the probe cheap (it shares the CPU).
 */
import { ConfigResourceTypes, Consumer } from '@platformatic/kafka';
import type { Config } from '../lib/config.ts';
import { createAdmin, platformaticConnection } from '../lib/kafka.ts';

const EVENT_TIME = /"event_time":"([^"]+)"/;
const SCORED_AT = /"scored_at":"([^"]+)"/;

export interface LatencySample {
  /** When the broker appended the prediction (ms since the epoch). */
  appendedAt: number;
  toTopicMs: number;
  /** From the worker's `scored_at` (its models done) to the append: the publish's share. */
  fromScoredMs: number;
  receivedMs: number;
}

export async function startLatencyProbe(cfg: Config, group: string) {
  const admin = createAdmin(cfg, 'bench-latency');
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: cfg.topicPredictions,
        configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
      },
    ],
  });
  await admin.close();
  const samples: LatencySample[] = [];
  let measuring = false;
  // The broker answers a fetch as soon as one byte is there, so a long wait adds no latency.
  const consumer = new Consumer({
    ...platformaticConnection(cfg, 'bench-latency'),
    groupId: group,
    maxWaitTime: 1000,
  });
  // No commits: they would put a round trip after every fetch on the receipt times.
  const stream = await consumer.consume({
    topics: [cfg.topicPredictions],
    mode: 'latest',
    autocommit: false,
  });
  stream.on('data', (m) => {
    if (!measuring) return;
    const text = m.value.toString();
    const eventTime = Date.parse(EVENT_TIME.exec(text)![1]!);
    const scoredAt = Date.parse(SCORED_AT.exec(text)![1]!);
    const appendedAt = Number(m.timestamp);
    samples.push({
      appendedAt,
      toTopicMs: appendedAt - eventTime,
      fromScoredMs: appendedAt - scoredAt,
      receivedMs: Date.now() - eventTime,
    });
  });
  return {
    samples,
    measure: (on: boolean) => void (measuring = on),
    stop: async () => {
      await stream.close();
      await consumer.close();
    },
  };
}
