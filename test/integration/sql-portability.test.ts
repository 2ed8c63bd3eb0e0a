/**
 * Every SQL statement the project owns runs on both engines it must support: the real 18.16 server
 * (the migration test above) and a current ClickHouse (chdb, in-process).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trackPredictionsSql } from '../../api/routes/tracks.ts';
import { latestTrackEventSql, scoredBySql } from '../../api/routes/track-explanation.ts';
import { readManifests } from '../../dashboards/common.ts';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import {
  disagreementInWindowSql,
  disagreementPerMinuteSql,
  errorPerMinuteOfVersionSql,
  estimateRowsSql,
  featureBinsPerMinuteSql,
  scoreBinsPerMinuteSql,
  storedEstimatesSql,
  featureBinsSql,
  scoreBinsSql,
  versionErrorSql,
} from '../../warehouse/drift-sql.ts';
import { alertsSql } from '../../api/alerts-store.ts';
import { deadLettersSql } from '../../producers/redrive.ts';
import { compareSql } from '../../registry/compare.ts';
import { pairedErrorsSql } from '../../registry/judge.ts';
import { lastRunsSql } from '../../registry/trail.ts';
import { driftReferencesSql } from '../../registry/references.ts';
import { MODEL_NAMES, type ModelName } from '../../schemas/index.ts';
import { sql } from '../../lib/sql.ts';
import { runOnChdb } from '../sql/chdb.ts';
import { HOSTILE_STRINGS } from '../helpers/hostile-strings.ts';

test('every migration statement runs on a current ClickHouse (chdb)', () => {
  const statements = [MIGRATIONS_TABLE, ...loadMigrations().flatMap((m) => m.statements)];
  const results = runOnChdb(statements);
  assert.equal(results.length, statements.length);
  for (const r of results) assert.ok(r.ok, `statement ${r.i} failed on chdb: ${r.error}\n${statements[r.i]}`);
});

test('hostile strings survive a round trip on chdb too', () => {
  const results = runOnChdb(HOSTILE_STRINGS.map((s) => sql`SELECT ${s} AS s`));
  results.forEach((r, i) => assert.equal(r.rows?.[0]?.s, HOSTILE_STRINGS[i], r.error));
});

test('the API’s queries run on a current ClickHouse (chdb) too', () => {
  const manifests = readManifests();
  const featureEdges = Object.fromEntries(
    Object.entries(manifests.rf.drift.features).map(([f, r]) => [f, r.edges]),
  );
  const scoreEdges = Object.fromEntries(
    MODEL_NAMES.map((m) => [m, manifests[m].drift.score.edges]),
  ) as Record<ModelName, number[]>;
  const statements = [
    trackPredictionsSql("it's-a-track", 100),
    latestTrackEventSql("it's-a-track"),
    scoredBySql("an'event"),
    featureBinsSql(featureEdges, 900),
    scoreBinsSql(scoreEdges, 900, 'v1'),
    versionErrorSql(900, 'v1'),
    driftReferencesSql('v1'),
    compareSql('v1', 3600),
    pairedErrorsSql({ version: 'v1', score: 'ensemble' }, { version: "v'2", score: 'rf' }, 1_700_000_000),
    lastRunsSql(10),
    disagreementInWindowSql(900, 'v1'),
    alertsSql({ activeOnly: true, sinceSeconds: 86400, limit: 10 }),
    alertsSql({ activeOnly: false, sinceSeconds: 86400, limit: 10 }),
    deadLettersSql({ sinceSeconds: 3600, code: 'missing_field', limit: 10 }),
    deadLettersSql({ sinceSeconds: 3600, limit: 10 }),
    featureBinsPerMinuteSql(featureEdges, 86400),
    scoreBinsPerMinuteSql(scoreEdges, 86400, 'v1'),
    disagreementPerMinuteSql(86400, 'v1'),
    errorPerMinuteOfVersionSql(86400, 'v1'),
    storedEstimatesSql(86400, 'v1'),
    estimateRowsSql(900, 'v1', 3),
  ];
  const setup = [MIGRATIONS_TABLE, ...loadMigrations().flatMap((m) => m.statements)];
  for (const r of runOnChdb(statements, setup))
    assert.ok(r.ok, `statement ${r.i} failed on chdb: ${r.error}`);
});
