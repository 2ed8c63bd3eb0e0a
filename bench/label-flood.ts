/**
 * A labels producer of its own for `bench labels`: run as a child process, so that making and
 * sending the labels does not share the event loop of the bench's replay and latency probe
 * (labels come from elsewhere in real use). Arguments: count, labels per second (0: as fast as
 * the broker takes them), first id. Connects, prints `ready`, and starts on a line on stdin, so
 * that its start-up (compiling, connecting) is outside the measured phase. Prints
 * `{"sentSeconds": …}` when the broker has them all.
 */
import { loadConfig } from '../lib/config.ts';
import { createPublisher } from '../producers/publisher.ts';

const [count, perSecond, first] = process.argv.slice(2).map(Number) as [number, number, number];
const cfg = loadConfig();
const publisher = await createPublisher(cfg, 'bench-label-flood');
process.stdout.write('ready\n');
await new Promise((r) => process.stdin.once('data', r));
process.stdin.pause();
const t0 = performance.now();
const step = perSecond ? Math.max(1, Math.round(perSecond / 10)) : 2000;
for (let i = 0; i < count; i += step) {
  if (perSecond) {
    const wait = t0 + (i / perSecond) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const now = new Date().toISOString();
  await publisher.sendTo(
    cfg.topicLabels,
    Array.from({ length: Math.min(step, count - i) }, (_, k) => {
      const id = `bench-${first + i + k}`;
      return { key: id, value: JSON.stringify({ track_id: id, popularity: (i + k) % 101, label_time: now }) };
    }),
  );
}
process.stdout.write(`${JSON.stringify({ sentSeconds: (performance.now() - t0) / 1000 })}\n`);
await publisher.close();
