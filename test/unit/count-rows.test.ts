import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { countRows } from '../../lib/kaggle-csv.ts';

const dir = mkdtempSync(join(tmpdir(), 'hs-rows-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test('countRows counts the data rows under the header, with or without a final line break', async () => {
  assert.equal(await countRows(file('a.csv', 'h\n1\n2\n3\n')), 3);
  assert.equal(await countRows(file('b.csv', 'h\n1\n2\n3')), 3);
});

test('countRows reads across stream chunks (64 KiB each)', async () => {
  const rows = Array.from({ length: 50_000 }, (_, i) => `${i},${'x'.repeat(i % 7)}`);
  assert.equal(await countRows(file('c.csv', `h\n${rows.join('\n')}\n`)), 50_000);
});

test('countRows gives the sample its real row count', async () => {
  assert.equal(await countRows('data/spotify_tracks_sample.csv'), 2964);
});
