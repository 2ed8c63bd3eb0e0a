/**
 * One Kafka client measured alone in its own process (so one client's timers cannot show up in
 * the other's CPU): produce N event-sized messages, consume them in a group with a commit per
 * batch, then event → consumer latency at 1,000 messages/s, then the CPU of a connected, idle
 * producer and consumer. Prints one JSON line: bench/kafka-clients.ts runs it per client.
 *   node --import tsx bench/kafka-client-probe.ts <kafkajs|platformatic> <topic> <events>
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../lib/config.ts';
import { kafkaClientFor, type ClientName } from './kafka-client-shapes.ts';

const BATCH = 500;
const LATENCY_SECONDS = 10;
const IDLE_SECONDS = 10;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A track event's size and shape (its JSON is ~430 bytes), numbered. */
function eventValue(i: number, sentAt = 0): Buffer {
  return Buffer.from(
    JSON.stringify({
      event_id: `bench-${i}`,
      track_id: `t${i % 90_000}`,
      event_time: new Date().toISOString(),
      sent_at: sentAt,
      features: {
        danceability: 0.52,
        energy: 0.61,
        loudness: -7.1,
        speechiness: 0.05,
        acousticness: 0.2,
        instrumentalness: 0.01,
        liveness: 0.12,
        valence: 0.44,
        tempo: 118.2,
        duration_ms: 210_000,
        key: 5,
        mode: 1,
        time_signature: 4,
        explicit: false,
      },
      track_genre: 'pop',
      artists: 'Someone;Someone Else',
      popularity: 55,
    }),
  );
}

async function main() {
  const [client, topic, eventsArg] = process.argv.slice(2) as [ClientName, string, string];
  const events = Number(eventsArg);
  const kafka = kafkaClientFor(client, loadConfig());
  const out: Record<string, number | string> = { client };

  // Produce: sends of BATCH messages, each awaited (acks from every in-sync replica), as the replay does.
  const producer = await kafka.producer();
  let cpu0 = cpuMs();
  let t0 = performance.now();
  for (let i = 0; i < events; i += BATCH) {
    const n = Math.min(BATCH, events - i);
    await producer.send(
      topic,
      Array.from({ length: n }, (_, k) => ({
        key: `t${i + k}`,
        value: eventValue(i + k),
        eventId: `bench-${i + k}`,
      })),
    );
  }
  out.produceEventsPerSecond = Math.round(events / ((performance.now() - t0) / 1000));
  out.produceCpuMsPerEvent = (cpuMs() - cpu0) / events;

  // Consume them all from the start in a group, committing each batch.
  cpu0 = cpuMs();
  t0 = performance.now();
  let seen = 0;
  const consumer = await kafka.consumer(`bench-clients-${topic}`, topic, (count) => {
    seen += count;
  });
  while (seen < events) await new Promise((r) => setTimeout(r, 5));
  out.consumeEventsPerSecond = Math.round(events / ((performance.now() - t0) / 1000));
  out.consumeCpuMsPerEvent = (cpuMs() - cpu0) / events;
  await consumer.close();

  // Latency: one message a millisecond, each sent alone, to a consumer that reads from the end.
  const latencies: number[] = [];
  const reader = await kafka.consumer(
    `bench-latency-${topic}`,
    topic,
    () => undefined,
    (value) => {
      const sentAt = (JSON.parse(value.toString()) as { sent_at: number }).sent_at;
      if (sentAt > 0) latencies.push(performance.timeOrigin + performance.now() - sentAt);
    },
    true,
  );
  await new Promise((r) => setTimeout(r, 2_000));
  cpu0 = cpuMs();
  const sends: Promise<void>[] = [];
  const started = Date.now();
  for (let i = 0; Date.now() - started < LATENCY_SECONDS * 1000; i++) {
    const due = started + i;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    sends.push(
      producer.send(topic, [
        { key: `l${i}`, value: eventValue(i, performance.timeOrigin + performance.now()), eventId: `l${i}` },
      ]),
    );
  }
  await Promise.all(sends);
  await new Promise((r) => setTimeout(r, 1_000));
  const sent = sends.length;
  out.latencyCpuMsPerEvent = (cpuMs() - cpu0) / sent;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  out.latencyMessages = `${latencies.length}/${sent}`;
  out.latencyP50Ms = at(0.5);
  out.latencyP99Ms = at(0.99);

  // Idle: a connected producer and a consumer in a group, nothing to do.
  await new Promise((r) => setTimeout(r, 2_000));
  cpu0 = cpuMs();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  out.idleCpuMsPerSecond = (cpuMs() - cpu0) / IDLE_SECONDS;
  await reader.close();
  await producer.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
