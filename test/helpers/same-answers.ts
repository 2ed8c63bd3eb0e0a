/**
 * What the tests that compare two ClickHouse setups share: the tables rows are written to, the
 * API's read URLs, and a comparison of two JSON answers that tolerates float rounding only.
 */
import assert from 'node:assert/strict';
import { dashboardViews } from '../../dashboards/panels.ts';
import { loadMigrations } from '../../infra/migrate.ts';

/** Tables filled by materialized views get their rows from the inserts into their sources. */
export function baseTables(): string[] {
  const statements = loadMigrations().flatMap((m) => m.statements);
  const viewTargets = new Set(
    statements.flatMap((q) => /MATERIALIZED VIEW[\s\S]*?\bTO (\w+)/.exec(q)?.[1] ?? []),
  );
  return statements
    .flatMap((q) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(q)?.[1] ?? [])
    .filter((t) => !viewTargets.has(t));
}

/** Every read the API serves from storage: a track's history, drift, every dashboard panel. */
export function apiReadUrls(trackId: string, version: string): string[] {
  const to = Math.ceil(Date.now() / 1000) + 60;
  return [
    `/tracks/${encodeURIComponent(trackId)}/predictions`,
    '/drift?window=1h',
    `/drift?window=1h&version=${version}`,
    ...dashboardViews().flatMap((d) =>
      d.panels.filter((x) => x.sql).map((x) => `/dashboards/panels/${d.uid}.${x.id}?seconds=3600&to=${to}`),
    ),
  ];
}

/** Rows sorted by their integers and strings (floats may differ in the last digits). */
const byLabels = (rows: unknown[]) =>
  [...rows].sort((r, q) => {
    const key = (row: unknown) =>
      JSON.stringify(
        Array.isArray(row)
          ? (row as unknown[]).map((v) => (typeof v === 'number' && !Number.isInteger(v) ? 0 : v))
          : row,
      );
    return key(r) < key(q) ? -1 : key(r) > key(q) ? 1 : 0;
  });

/** Equal values with equal JSON types; numbers within 1e-9 relative (engines round floats apart). */
export function assertSameJson(a: unknown, b: unknown, path: string): void {
  assert.equal(typeof a, typeof b, `${path}: ${JSON.stringify(a)} (18.16) vs ${JSON.stringify(b)} (current)`);
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${path}: ${a} vs ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${path}: length`);
    // A panel's rows are ordered by time only: rows of one minute come in either engine's order.
    const [x, y] = path.endsWith('.rows') ? [byLabels(a), byLabels(b)] : [a, b];
    x.forEach((v, i) => assertSameJson(v, y[i], `${path}[${i}]`));
  } else if (a && b && typeof a === 'object') {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${path}: keys`);
    for (const k of Object.keys(a))
      assertSameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else assert.equal(a, b, path);
}
