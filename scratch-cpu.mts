import { readKaggleCsv } from './lib/kaggle-csv.ts';
import { trackEventFromCsv } from './producers/track-event.ts';
import { loadModels } from './models/registry.ts';
import { decodeTrackMessage } from './scorers/decode.ts';
import { predictionRows, scoredEvents, trackRow } from './scorers/rows.ts';
const models = await loadModels();
await models.warmUp();
const N = Number(process.argv[2] ?? 2000);
const bufs: Buffer[] = [];
for await (const r of readKaggleCsv('/tmp/tracks25k.csv')) {
  if (r.ok) bufs.push(Buffer.from(JSON.stringify(trackEventFromCsv(r.track, new Date().toISOString()))));
  if (bufs.length >= N * 4) break;
}
const acc: Record<string, number> = {};
const tick = (k: string, t: number) => { acc[k] = (acc[k] ?? 0) + performance.now() - t; };
for (let rep = 0; rep < 4; rep++) {
  const batch = bufs.slice(rep * N, (rep + 1) * N);
  let t = performance.now();
  const valid = batch.map((b, i) => { const d = decodeTrackMessage(b); if (!d.ok) throw new Error('bad'); return { eventId: 'e' + i, event: d.event }; });
  tick('decode', t); t = performance.now();
  const pred = await models.predictBatch(valid.map((s) => s.event));
  tick('predict', t);
  for (const [m, us] of Object.entries(pred.inferenceUs)) acc['model ' + m] = (acc['model ' + m] ?? 0) + (us * N) / 1000;
  t = performance.now();
  const now = new Date();
  const feed = scoredEvents(valid, pred, models.manifests, now);
  tick('scoredEvents', t); t = performance.now();
  const msgs = feed.map((e) => JSON.stringify(e));
  tick('stringify feed', t); t = performance.now();
  const rows = { t: valid.map((s) => trackRow(s, now)), p: predictionRows(valid, pred, models.manifests, now) };
  tick('rows', t); t = performance.now();
  const enc = [...rows.t, ...rows.p].map((r) => JSON.stringify(r) + '\n').join('');
  tick('rows JSON', t);
  if (rep === 0) for (const k of Object.keys(acc)) acc[k] = 0; // first rep warms up
  if (rep === 0) console.log('feed msg bytes', msgs[0]!.length, 'row bytes/event', enc.length / N);
}
for (const [k, v] of Object.entries(acc)) console.log(k.padEnd(16), ((v * 1000) / (3 * N)).toFixed(1), 'us/event');
