/**
 * The context tables are stored once per set (models/context.ts): the shipped set's manifests
 * name one context.json by its checksum, a set in the old layout (each manifest with its own
 * tables) still loads and scores the same, and a changed or missing context file is refused.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { CONTEXT_FILE, contextReader } from '../../models/context.ts';
import { MANIFEST_FILE, readManifest, type StoredManifest } from '../../models/manifest.ts';
import { ARTIFACTS_DIR, loadModels } from '../../models/model-set.ts';
import { readVersionDir } from '../../registry/store.ts';
import { MODEL_NAMES } from '../../schemas/index.ts';

const temps: string[] = [];
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function copyOfShippedSet(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hs-context-'));
  temps.push(dir);
  cpSync(ARTIFACTS_DIR, dir, { recursive: true });
  return dir;
}

const storedManifest = (dir: string, m: string) =>
  JSON.parse(readFileSync(join(dir, m, MANIFEST_FILE), 'utf8')) as StoredManifest;

/** The shipped set rewritten as sets were before context.json: the tables inside every manifest. */
async function asOldLayout(): Promise<string> {
  const dir = copyOfShippedSet();
  const context = contextReader(dir);
  for (const m of MODEL_NAMES) {
    const manifest = await readManifest(dir, m, context);
    writeFileSync(join(dir, m, MANIFEST_FILE), JSON.stringify(manifest));
  }
  rmSync(join(dir, CONTEXT_FILE));
  return dir;
}

test('the shipped set holds the genre and artist tables once: every manifest names the same context.json', () => {
  const refs = MODEL_NAMES.map((m) => {
    const p = storedManifest(ARTIFACTS_DIR, m).preprocessing;
    assert.ok(!('genre' in p) && !('artist' in p), `${m}'s manifest carries no tables of its own`);
    assert.ok('context' in p, `${m} names its context file`);
    return p.context;
  });
  assert.equal(new Set(refs.map((r) => `${r.file}:${r.sha256}`)).size, 1, 'one file, one checksum');
});

test('a set in the old layout (four manifests with their own tables) loads and scores the same as the shipped one', async () => {
  const old = await asOldLayout();
  assert.ok('genre' in storedManifest(old, 'rf').preprocessing, 'the copy is in the old layout');
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 300 });
  const [shipped, legacy] = [await loadModels(ARTIFACTS_DIR), await loadModels(old)];
  const [a, b] = [await shipped.predictBatch(tracks), await legacy.predictBatch(tracks)];
  assert.deepEqual(b.names, a.names);
  for (const name of a.names) assert.deepEqual(b.scores[name], a.scores[name], `${name} scores`);
  assert.deepEqual(legacy.manifests.rf.preprocessing, shipped.manifests.rf.preprocessing);
  // The registry pushes what a set names: context.json with the new layout, nothing more with the old.
  assert.deepEqual((await readVersionDir(ARTIFACTS_DIR)).contextFiles, [CONTEXT_FILE]);
  assert.deepEqual((await readVersionDir(old)).contextFiles, []);
});

test('a changed or missing context.json is refused, naming the file', async () => {
  const changed = copyOfShippedSet();
  appendFileSync(join(changed, CONTEXT_FILE), ' ');
  await assert.rejects(loadModels(changed), /context\.json does not match the checksum/);
  await assert.rejects(readVersionDir(changed), /context\.json does not match the checksum/);
  const missing = copyOfShippedSet();
  rmSync(join(missing, CONTEXT_FILE));
  await assert.rejects(loadModels(missing), /context\.json is named by a manifest but missing/);
});
