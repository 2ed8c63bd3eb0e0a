/**
 * Explanations from the stream, against the real broker and server: a replay with
 * HITSTREAM_EXPLAIN_SAMPLE=0.1 stores every score's SHAP values for exactly the sampled events
 * (about 10%), keyed by the version that scored them; a feed client that asked gets them; the
 * drift dashboard's attribution panel draws from them, and moves when the stream changes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { driftSql } from '../../dashboards/drift.ts';
import { expandMacros } from '../../dashboards/macros.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { FEATURE_NAMES } from '../../schemas/index.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { versionOf } from '../../registry/serving.ts';
import { sampledShare } from '../../scorers/explain.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;

before(async () => {
  p = await isolatedPipeline();
  // No budget: every sampled event is explained (the default budget would skip some).
  s = await startScoringApp(p, { feed: true, listen: true, cfg: { explainSample: 0.1, explainBudget: 100 } });
  await writeDriftReferences(p.client, versionOf(s.models), s.models);
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

interface Stored {
  event_id: string;
  model: string;
  model_version: string;
  base: number;
  output: number;
  contributions: number[];
}

test('a replay sampled at 0.1: exactly the sampled events explained, every score, by version; the feed sends them; the attribution panel moves with the stream', async () => {
  const ws = new WebSocket(`${s.base.replace('http', 'ws')}/feed`);
  const explained: { event_id: string; scores: Record<string, { base: number; output: number }> }[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse((d as Buffer).toString()) as { type: string } & (typeof explained)[number];
    if (m.type === 'explanation') explained.push(m);
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', explanations: true }));

  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 400 });
  const earlier = new Date(Date.now() - 5 * 60_000).toISOString();
  const now = new Date().toISOString();
  // The same tracks again, all filed under one genre: what the models make of genre changes.
  const reference = tracks.map((t) => ({ ...trackEventFromCsv(t, earlier), source: 'test' as const }));
  const shifted = tracks.map((t) => ({
    ...trackEventFromCsv(t, now),
    source: 'test' as const,
    track_genre: 'pop',
  }));
  await s.publisher.publish(reference);
  await s.publisher.publish(shifted);
  const ids = await eventually(
    async () =>
      (
        await (
          await p.client.query({ query: 'SELECT event_id FROM track_events FINAL', format: 'JSONEachRow' })
        ).json<{ event_id: string }>()
      ).map((r) => r.event_id),
    (a) => a.length >= 800,
    60_000,
  );
  const sampled = new Set(ids.filter((id) => sampledShare(id) < 0.1));
  assert.ok(sampled.size >= 40 && sampled.size <= 120, `about 10% of 800 events sampled: ${sampled.size}`);
  const scoreNames = s.models.scoreNames;
  const rows = await eventually(
    async () =>
      await (
        await p.client.query({
          query: 'SELECT event_id, model, model_version, base, output, contributions FROM explanations FINAL',
          format: 'JSONEachRow',
        })
      ).json<Stored>(),
    (r) => r.length >= sampled.size * scoreNames.length,
    180_000,
  );
  assert.deepEqual(new Set(rows.map((r) => r.event_id)), sampled, 'exactly the sampled events');
  for (const r of rows) {
    assert.equal(
      r.model_version,
      s.models.versions[r.model as 'rf'],
      `${r.model}: keyed by the version that scored it`,
    );
    const sum = r.contributions.reduce((a, v) => a + v, r.base);
    assert.ok(
      Math.abs(sum - r.output) < 1e-2,
      `${r.event_id} ${r.model}: base + Σ = output (float32 columns)`,
    );
  }
  // Each stored output is the stored prediction's score (before the clip).
  const scores = await (
    await p.client.query({
      query: 'SELECT event_id, model, score FROM predictions FINAL',
      format: 'JSONEachRow',
    })
  ).json<{ event_id: string; model: string; score: number }>();
  const scoreOf = new Map(scores.map((x) => [`${x.event_id}|${x.model}`, x.score]));
  for (const r of rows) {
    const score = scoreOf.get(`${r.event_id}|${r.model}`)!;
    assert.ok(
      Math.abs(Math.min(100, Math.max(0, r.output)) - score) < 0.01,
      `${r.model}: explains ${score}: ${r.output}`,
    );
  }

  // The feed: every score of sampled events, a few seconds after.
  await eventually(
    () => Promise.resolve(explained.length),
    (n) => n >= 5,
    30_000,
  );
  ws.close();
  for (const m of explained) {
    assert.ok(sampled.has(m.event_id));
    assert.deepEqual(Object.keys(m.scores).sort(), [...scoreNames].sort());
  }

  // Attribution drift: each feature's mean |SHAP| ÷ its training value, before and after the change.
  const q = driftSql().attribution;
  const ratios = async (from: Date, to: Date) => {
    const rs = await p.client.query({ query: expandMacros(q, from, to), format: 'JSONEachRow' });
    const got = await rs.json<{ name: string; ratio: number }>();
    const by = new Map<string, number[]>();
    for (const g of got) by.set(g.name, [...(by.get(g.name) ?? []), Number(g.ratio)]);
    return new Map([...by].map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
  };
  const before = await ratios(new Date(Date.now() - 8 * 60_000), new Date(Date.now() - 2 * 60_000));
  const after = await ratios(new Date(Date.now() - 2 * 60_000), new Date(Date.now() + 60_000));
  assert.equal(before.size, s.models.features.length, 'a line per model feature');
  process.stderr.write(
    `attribution ratio before → after: ${[...before].map(([k, v]) => `${k} ${v.toFixed(2)}→${after.get(k)?.toFixed(2)}`).join(', ')}\n`,
  );
  const moved = (k: string) => Math.abs((after.get(k) ?? 0) - (before.get(k) ?? 0));
  assert.ok(
    moved('genre_popularity') > 0.25,
    `genre_popularity's influence moved: ${moved('genre_popularity')}`,
  );
  // The audio features of the same tracks did not change, but their influence did (in one genre
  // the models lean on them otherwise): what the feature PSI panels cannot show.
  const audioMoved = FEATURE_NAMES.filter((f) => moved(f) > 0.3);
  assert.ok(audioMoved.length >= 3, `audio features whose influence moved: ${audioMoved.join(', ')}`);
});
