/**
 * `dead-letters list` and `redrive` against a real Kafka, ClickHouse and worker. One dead letter
 * is real (a worker refused a message with no `energy`): it would fail again and is left alone.
 * The other is a valid event that an earlier, stricter version of the schema refused, written as
 * that version's worker wrote it (no version here refuses it, so it cannot be produced live): its
 * cause is fixed, so the redrive republishes it, the worker scores it, and it is stored once,
 * however often the redrive runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { deadLetterRow } from '../../warehouse/rows.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT, testKafka } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;

before(async () => {
  p = await isolatedPipeline();
  s = await startScoringApp(p);
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/hitstream.js', 'dead-letters', ...args], {
    env: p.env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('a dead letter whose cause is fixed is redriven, scored and stored once; one that would fail again is left', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 1 });
  const event = trackEventFromCsv(tracks[0]!, new Date().toISOString());
  const noEnergy: Record<string, unknown> = { ...event };
  delete noEnergy.energy;
  const producer = testKafka(p.cfg).producer();
  await producer.connect();
  await producer.send({
    topic: p.cfg.topicTracks,
    messages: [{ key: 'x', value: JSON.stringify(noEnergy) }],
  });
  await producer.disconnect();
  await eventually(
    () => p.count('SELECT count() FROM dead_letters FINAL'),
    (n) => n >= 1,
  );
  await p.client.insert({
    table: 'dead_letters',
    format: 'JSONEachRow',
    values: [
      deadLetterRow({
        payload: JSON.stringify(event),
        payload_encoding: 'utf8',
        payload_bytes: JSON.stringify(event).length,
        error_code: 'out_of_range',
        message: 'tempo must be at most 220 (an earlier schema)',
        field: 'tempo',
        topic: p.cfg.topicTracks,
        partition: 9,
        offset: '41',
        key: event.track_id,
        time: new Date().toISOString(),
      }),
    ],
  });

  const list = cli('list', '--since', '1h');
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /missing_field\s+energy/);
  assert.match(list.out, /out_of_range/);

  const dry = cli('redrive', '--dry-run', '--since', '1h');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.err, /2 dead letters: 1 would be republished/);
  assert.match(dry.err, /1 would fail again \(missing_field 1/);

  const first = cli('redrive', '--since', '1h');
  assert.equal(first.code, 0, first.err);
  assert.match(first.err, /1 {2}republished/);
  const eventId = `redrive-${p.cfg.topicTracks}-9-41`;
  await eventually(
    () => p.count(`SELECT count() FROM predictions FINAL WHERE event_id = '${eventId}'`),
    (n) => n >= SCORES_PER_EVENT,
  );

  const second = cli('redrive', '--since', '1h');
  assert.equal(second.code, 0, second.err);
  assert.match(second.err, /0 {2}republished.*1 redriven before \(skipped\)/);
  assert.match(cli('list', '--since', '1h', '--code', 'out_of_range').out, /\[redriven\]/);
  await new Promise((r) => setTimeout(r, 3_000)); // a late second copy would have landed by now
  assert.equal(await p.count(`SELECT count() FROM track_events FINAL WHERE event_id = '${eventId}'`), 1);
  assert.equal(
    await p.count(`SELECT count() FROM predictions FINAL WHERE event_id = '${eventId}'`),
    SCORES_PER_EVENT,
  );
  assert.equal(await p.count('SELECT count() FROM dead_letter_redrives FINAL'), 1);
});
