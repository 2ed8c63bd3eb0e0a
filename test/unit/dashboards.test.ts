import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generatedFiles, REPO_DIR } from '../../dashboards/generate.ts';
import { panelQueries } from '../../dashboards/macros.ts';

const files = generatedFiles();

test('the committed dashboards and alert rules are what the code generates (run `npx hitstream dashboards`)', () => {
  for (const [rel, content] of Object.entries(files))
    assert.equal(readFileSync(join(REPO_DIR, rel), 'utf8'), content, rel);
});

test('every panel has a datasource and every ClickHouse query avoids what 18.16 lacks', () => {
  for (const name of ['dashboards/generated/pipeline.json', 'dashboards/generated/drift.json']) {
    const d = JSON.parse(files[name]!) as {
      uid: string;
      panels: { type: string; title: string; datasource?: { uid: string } }[];
    };
    assert.ok(d.uid.startsWith('hitstream-'));
    for (const p of d.panels.filter((x) => x.type !== 'row'))
      assert.ok(p.datasource?.uid, `${name}: ${p.title}`);
    for (const q of panelQueries(d))
      assert.doesNotMatch(
        q.rawSql,
        /toStartOfInterval|DateTime64|LowCardinality|\$__timeInterval|->/,
        `${name}: ${q.title}`,
      );
  }
});

test('the drift dashboard shows PSI per feature over time, as a heat map, score distributions, disagreement and live error', () => {
  const d = JSON.parse(files['dashboards/generated/drift.json']!) as {
    panels: { type: string; title: string }[];
  };
  const types = d.panels.map((p) => p.type);
  for (const t of ['timeseries', 'status-history', 'barchart']) assert.ok(types.includes(t), t);
  assert.ok(d.panels.some((p) => /disagreement/i.test(p.title)));
  assert.ok(d.panels.some((p) => /RMSE/.test(p.title)));
});
