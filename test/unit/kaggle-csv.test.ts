import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKaggleCsv, readKaggleCsvChunks } from '../../lib/kaggle-csv.ts';

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

test('rows across many reads of the file keep multi-byte text, quoted line breaks and CRLF whole', async () => {
  // ~1 MB: every 64 KB read boundary falls somewhere inside rows, often inside "Ünïcødé ✓ 😀".
  const names = (i: number) => `"Ünïcødé ✓ 😀 ${i}, line one\nline ""two"""`;
  const lines = [
    HEADER,
    ...Array.from({ length: 4000 }, (_, i) => row(i, { 4: names(i), 3: `"${'é'.repeat(i % 97)}"` })),
  ];
  const p = join(dir, 'many-reads.csv');
  writeFileSync(p, `\ufeff${lines.join('\r\n')}\r\n`);
  const { tracks, errors } = await loadKaggleCsv(p);
  assert.equal(errors.length, 0);
  assert.equal(tracks.length, 4000);
  tracks.forEach((t, i) => {
    assert.equal(t.track_id, `id${i}`, 'the byte-order mark is not part of the header');
    assert.equal(t.track_name, `Ünïcødé ✓ 😀 ${i}, line one\nline "two"`);
    assert.equal(t.album_name, 'é'.repeat(i % 97));
    assert.equal(t.track_genre, 'pop', 'no \\r left at the end of a row');
  });
  let chunks = 0;
  for await (const rows of readKaggleCsvChunks(p)) chunks += rows.length ? 1 : 0;
  assert.ok(chunks > 10, `a read at a time, not one array for the file (${chunks})`);
  const limited = await loadKaggleCsv(p, { limit: 1234 });
  assert.equal(limited.tracks.length, 1234);
  // A byte-order mark before a header that starts with a column we need.
  const bom = join(dir, 'bom.csv');
  writeFileSync(bom, `\ufeff${HEADER.slice(1)}\n${row(7).slice(2)}\n`);
  assert.equal((await loadKaggleCsv(bom)).tracks[0]?.track_id, 'id7');
});

test('a quote that never closes is a DATA_BAD_CSV error naming the row near it', async () => {
  const p = file('quote.csv', [HEADER, row(0), row(1), row(2, { 4: '"no end' }), row(3)]);
  await assert.rejects(loadKaggleCsv(p), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DATA_BAD_CSV');
    assert.match(err.message, /quote\.csv: not a readable CSV near data row 3: /);
    return true;
  });
});
