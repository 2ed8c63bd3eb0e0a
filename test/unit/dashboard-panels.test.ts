import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generatedFiles } from '../../dashboards/generate.ts';
import { panelQueries } from '../../dashboards/macros.ts';
import { dashboardViews } from '../../dashboards/panels.ts';
import { wallClockToEpoch } from '../../lib/clickhouse-time.ts';

test('the web page’s panels are the Grafana JSON’s: same titles, same SQL, sections and thresholds', () => {
  const files = generatedFiles();
  const views = dashboardViews();
  for (const [file, view] of [
    ['dashboards/generated/drift.json', views.find((v) => v.uid === 'hitstream-drift')!],
    ['dashboards/generated/pipeline.json', views.find((v) => v.uid === 'hitstream-pipeline')!],
  ] as const) {
    const grafana = panelQueries(JSON.parse(files[file]!) as { panels: unknown[] });
    assert.deepEqual(
      view.panels.filter((p) => p.sql).map((p) => [p.title, p.sql]),
      grafana.map((q) => [q.title, q.rawSql]),
      file,
    );
  }
  const psi = views[0]!.panels.find((p) => p.title.startsWith('PSI per feature'))!;
  assert.deepEqual(
    psi.thresholds.map((s) => s.value),
    [0.1, 0.2],
  );
  assert.equal(psi.section, 'Features');
  const lag = views.flatMap((v) => v.panels).find((p) => p.title.startsWith('Consumer lag'))!;
  assert.equal(lag.sql, undefined);
  assert.match(lag.note ?? '', /Prometheus/);
});

test('ClickHouse DateTime text in the server’s zone becomes the right instant', () => {
  assert.equal(wallClockToEpoch('2026-12-01 20:38:00', 'UTC'), Date.UTC(2026, 11, 1, 20, 38) / 1000);
  // Berlin is UTC+1 in winter and UTC+2 in summer.
  assert.equal(
    wallClockToEpoch('2026-12-01 21:38:00', 'Europe/Berlin'),
    Date.UTC(2026, 11, 1, 20, 38) / 1000,
  );
  assert.equal(wallClockToEpoch('2026-07-01 22:00:00', 'Europe/Berlin'), Date.UTC(2026, 6, 1, 20, 0) / 1000);
  assert.throws(() => wallClockToEpoch('yesterday', 'UTC'), /not a ClickHouse DateTime/);
});
