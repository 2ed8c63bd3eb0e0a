/**
 * Event → predictions-topic latency, as the benches measure it: the predictions topic is switched
 * to LogAppendTime, so each prediction's record timestamp is the moment the broker appended it;
 * a consumer in the bench process reads them and keeps (append time − event time) with the time
 * it was appended. Reading the event time with a regex keeps the probe cheap (it shares the CPU).
 */
import type { ConfigResourceTypes } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { createKafka } from '../lib/kafka.ts';

/** kafkajs's ConfigResourceTypes.TOPIC (its CommonJS enum cannot be imported by name here). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
const EVENT_TIME = /"event_time":"([^"]+)"/;

export interface LatencySample {
  /** When the broker appended the prediction (ms since the epoch). */
  appendedAt: number;
  toTopicMs: number;
  receivedMs: number;
}

export async function startLatencyProbe(cfg: Config, group: string) {
  const kafka = createKafka(cfg, 'bench-latency');
  const admin = kafka.admin();
  await admin.connect();
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: TOPIC_RESOURCE,
        name: cfg.topicPredictions,
        configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
      },
    ],
  });
  await admin.disconnect();
  const samples: LatencySample[] = [];
  let measuring = false;
  // The broker answers a fetch as soon as one byte is there, so a long wait adds no latency.
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topicPredictions, fromBeginning: false });
  await consumer.run({
    // Commits would put a round trip after every partition's batch on the receipt times.
    autoCommit: false,
    eachBatch: ({ batch }) => {
      const now = Date.now();
      if (measuring)
        for (const m of batch.messages) {
          const eventTime = Date.parse(EVENT_TIME.exec(m.value!.toString())![1]!);
          samples.push({
            appendedAt: Number(m.timestamp),
            toTopicMs: Number(m.timestamp) - eventTime,
            receivedMs: now - eventTime,
          });
        }
      return Promise.resolve();
    },
  });
  return {
    samples,
    measure: (on: boolean) => void (measuring = on),
    stop: () => consumer.disconnect(),
  };
}
