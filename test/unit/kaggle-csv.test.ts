import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';

const dir = mkdtempSync(join(tmpdir(), 'hs-csv-'));
const HEADER =
  ',track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre';
const row = (i: number, over: Record<number, string> = {}) => {
  const cells = [
    String(i),
    `id${i}`,
    '"Artist; Other"',
    '"Album, with comma"',
    '"Say ""hi"""',
    '50',
    '200000',
    'False',
    '0.5',
    '0.6',
    '1',
    '-5.5',
    '1',
    '0.05',
    '0.1',
    '0',
    '0.1',
    '0.4',
    '120',
    '4',
    'pop',
  ];
  for (const [k, v] of Object.entries(over)) cells[Number(k)] = v;
  return cells.join(',');
};
const file = (name: string, lines: string[]) => {
  const p = join(dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
};

test('the sample in the repo reads cleanly with quotes, commas and semicolons intact', async () => {
  const { tracks, errors } = await loadKaggleCsv('data/spotify_tracks_sample.csv');
  assert.equal(errors.length, 0);
  assert.equal(tracks.length, 2964);
  const r = await loadKaggleCsv(file('q.csv', [HEADER, row(0)]));
  assert.equal(r.tracks[0]?.artists, 'Artist; Other');
  assert.equal(r.tracks[0]?.album_name, 'Album, with comma');
  assert.equal(r.tracks[0]?.track_name, 'Say "hi"');
  assert.equal(r.tracks[0]?.explicit, false);
});

test('a bad value is reported with its row number and column, and the other rows still load', async () => {
  const r = await loadKaggleCsv(
    file('bad.csv', [
      HEADER,
      row(0),
      row(1, { 9: 'loud' }),
      row(2, { 7: 'Yes' }),
      row(3, { 5: '101' }),
      row(4),
    ]),
  );
  assert.equal(r.tracks.length, 2);
  assert.deepEqual(
    r.errors.map((e) => [e.row, e.column]),
    [
      [2, 'energy'],
      [3, 'explicit'],
      [4, 'popularity'],
    ],
  );
  assert.match(r.errors[0]!.message, /row 2, column energy: not a number: "loud"/);
});

test('a missing column is one clear error for the whole file', async () => {
  const p = file('nocol.csv', [HEADER.replace(',tempo', ''), row(0)]);
  await assert.rejects(loadKaggleCsv(p), /missing column tempo/);
  await assert.rejects(loadKaggleCsv(join(dir, 'absent.csv')), /cannot read/);
});
