/**
 * The little the client comparison needs from a Kafka client, written once per client the way
 * hitstream uses each: keyed sends with an event-id header, acks from all in-sync replicas; a
 * group consumer that commits each batch it was handed.
 */
import { Consumer, Producer } from '@platformatic/kafka';
import { Kafka, logLevel, Partitioners, type SASLOptions } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { kafkaSecurity, platformaticConnection } from '../lib/kafka.ts';
import './kafkajs-negative-timer.ts';

export type ClientName = 'kafkajs' | 'platformatic';

export interface ProbeMessage {
  key: string;
  value: Buffer;
  eventId: string;
}

export interface ProbeClient {
  producer(): Promise<{
    send(topic: string, messages: ProbeMessage[]): Promise<void>;
    close(): Promise<void>;
  }>;
  /** Reads `topic` in `group` (from the start, or only new messages), commits after each batch. */
  consumer(
    group: string,
    topic: string,
    onBatch: (count: number) => void,
    onValue?: (value: Buffer) => void,
    fromEnd?: boolean,
  ): Promise<{ close(): Promise<void> }>;
}

export function kafkaClientFor(name: ClientName, cfg: Config): ProbeClient {
  return name === 'kafkajs' ? kafkajsClient(cfg) : platformaticClient(cfg);
}

/** kafkajs, the client hitstream used until 2026-12: kept here only to measure against. */
function kafkajsClient(cfg: Config): ProbeClient {
  const { ssl, sasl } = kafkaSecurity(cfg);
  const kafka = new Kafka({
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl: sasl as SASLOptions } : {}),
    brokers: cfg.kafkaBrokers,
    clientId: 'bench-clients',
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 30 },
  });
  return {
    async producer() {
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      return {
        async send(topic, messages) {
          await producer.send({
            topic,
            acks: -1,
            messages: messages.map((m) => ({
              key: m.key,
              value: m.value,
              headers: { 'event-id': m.eventId },
            })),
          });
        },
        close: () => producer.disconnect(),
      };
    },
    async consumer(group, topic, onBatch, onValue, fromEnd) {
      const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 1000 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: !fromEnd });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (onValue) for (const m of batch.messages) onValue(m.value!);
          onBatch(batch.messages.length);
          const last = batch.messages.at(-1);
          if (last)
            await consumer.commitOffsets([
              { topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) },
            ]);
        },
      });
      return { close: () => consumer.disconnect() };
    },
  };
}

function platformaticClient(cfg: Config): ProbeClient {
  const base = platformaticConnection(cfg, 'bench-clients');
  return {
    producer() {
      // Connects on its first send.
      const producer = new Producer(base);
      return Promise.resolve({
        async send(topic, messages) {
          // acks per send: 2.12.1's send() defaults acks to 1 (leader only) before it looks at
          // the constructor's, so `new Producer({ acks: -1 })` alone produces with acks 1.
          await producer.send({
            acks: -1,
            messages: messages.map((m) => ({
              topic,
              key: Buffer.from(m.key),
              value: m.value,
              headers: new Map([[Buffer.from('event-id'), Buffer.from(m.eventId)]]),
            })),
          });
        },
        close: () => producer.close(),
      });
    },
    async consumer(group, topic, onBatch, onValue, fromEnd) {
      const consumer = new Consumer({ ...base, groupId: group, maxWaitTime: 1000 });
      const stream = await consumer.consume({
        topics: [topic],
        mode: fromEnd ? 'latest' : 'earliest',
        autocommit: false,
      });
      // The stream hands messages one by one; a batch is what one read of its buffer holds.
      const pending: Array<{ commit(): unknown; value: Buffer; partition: number }> = [];
      let scheduled = false;
      stream.on('data', (m) => {
        pending.push(m);
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const batch = pending.splice(0);
          if (onValue) for (const msg of batch) onValue(msg.value);
          onBatch(batch.length);
          const lastOfEach = new Map(batch.map((msg) => [msg.partition, msg]));
          for (const msg of lastOfEach.values()) void msg.commit();
        });
      });
      return {
        async close() {
          await stream.close();
          await consumer.close();
        },
      };
    },
  };
}
