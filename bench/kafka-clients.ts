/**
 * `hitstream bench kafka-clients`: kafkajs and @platformatic/kafka side by side against the
 * configured brokers (the stack's plaintext listener, or its SASL_SSL one with --secure), each in
 * a process of its own, alternating, `--rounds` times. Prints events/s and CPU ms per event for
 * producing and consuming, latency at 1,000 messages/s, idle CPU, and platformatic ÷ kafkajs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { createAdmin, waitForLeaders } from '../lib/kafka.ts';
import type { ClientName } from './kafka-client-shapes.ts';
import { say } from './isolated-stack.ts';

const PROBE = fileURLToPath(new URL('./kafka-client-probe.ts', import.meta.url));
const CLIENTS: ClientName[] = ['kafkajs', 'platformatic'];

type Probe = Record<string, number | string>;

async function createTopic(cfg: Config, topic: string, partitions: number) {
  const admin = createAdmin(cfg, 'bench-clients-admin');
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    await waitForLeaders(admin, [topic]);
  } finally {
    await admin.close();
  }
}

function runProbe(cfg: Config, client: ClientName, topic: string, events: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PROBE, client, topic, String(events)], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as Probe);
      else reject(new Error(`the ${client} probe exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

const ROWS: [string, string, number][] = [
  ['produce events/s', 'produceEventsPerSecond', 0],
  ['produce CPU ms/event', 'produceCpuMsPerEvent', 4],
  ['consume events/s', 'consumeEventsPerSecond', 0],
  ['consume CPU ms/event', 'consumeCpuMsPerEvent', 4],
  ['1,000/s: p50 ms', 'latencyP50Ms', 2],
  ['1,000/s: p99 ms', 'latencyP99Ms', 2],
  ['1,000/s: CPU ms/event', 'latencyCpuMsPerEvent', 4],
  ['idle CPU ms/s', 'idleCpuMsPerSecond', 2],
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length / 2;
  return s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function benchKafkaClients(
  cfg: Config,
  opts: { events: number; rounds: number; json?: boolean },
) {
  await import('kafkajs').catch(() => {
    throw new HitstreamError(
      'BENCH_NEEDS_DEV_DEPENDENCIES',
      'bench kafka-clients measures against kafkajs, a devDependency hitstream itself no longer uses: run it from a checkout with `npm ci` (not --omit=dev)',
    );
  });
  const results: Record<ClientName, Probe[]> = { kafkajs: [], platformatic: [] };
  const stamp = Date.now();
  for (let round = 1; round <= opts.rounds; round++)
    for (const client of round % 2 ? CLIENTS : [...CLIENTS].reverse()) {
      const topic = `bench-clients-${stamp}-${client}-${round}`;
      await createTopic(cfg, topic, cfg.tracksPartitions);
      say(`round ${round}/${opts.rounds}: ${client}, ${opts.events.toLocaleString('en')} events on ${topic}`);
      results[client].push(await runProbe(cfg, client, topic, opts.events));
    }
  if (opts.json) {
    console.log(JSON.stringify(results, null, 2));
    return results;
  }
  console.log(
    `\nKafka clients, ${opts.events.toLocaleString('en')} events × ${opts.rounds} rounds (median), brokers ${cfg.kafkaBrokers.join(',')} (${cfg.kafkaSecurityProtocol}), Node ${process.versions.node}`,
  );
  console.log(
    `${'measure'.padEnd(24)}${'kafkajs'.padStart(12)}${'platformatic'.padStart(14)}${'ratio'.padStart(8)}`,
  );
  for (const [label, key, digits] of ROWS) {
    const [a, b] = CLIENTS.map((c) => median(results[c].map((r) => Number(r[key]))));
    console.log(
      `${label.padEnd(24)}${a!.toFixed(digits).padStart(12)}${b!.toFixed(digits).padStart(14)}${(b! / a!).toFixed(2).padStart(8)}`,
    );
  }
  console.log(
    `latency messages received: ${CLIENTS.map((c) => `${c} ${results[c].map((r) => r.latencyMessages).join(', ')}`).join('; ')}`,
  );
  return results;
}
