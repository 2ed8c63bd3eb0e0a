/**
 * A version's drift references in ClickHouse (table drift_references): the decile bins of each
 * feature and of each score (the four models', the ensemble's when the set has one) on its training
 * data, from its manifests. Written when the
 * version is pushed (and by every process for the set it starts with, so a registry-less setup
 * has them too); the dashboards' drift SQL joins every row with its version's.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { MODEL_NAMES, type ModelName, type ScoreName } from '../schemas/prediction.ts';
import { sql } from '../lib/sql.ts';
import type { BinnedReference } from '../models/drift-reference.ts';
import { NO_EDGE, REFERENCE_BINS, referenceColumns } from '../warehouse/drift-sql.ts';
import type { EnsembleManifest } from '../models/ensemble.ts';
import type { ModelManifest } from '../models/manifest.ts';
import type { ExplanationsFile } from '../models/explain/explanations-file.ts';

/** What a version's references come from: its manifests and its ensemble (`LoadedModels` is one). */
export interface ReferenceSource {
  manifests: Record<ModelName, ModelManifest>;
  ensemble?: EnsembleManifest | undefined;
  /** The set's explanations.json: its attribution reference (sets trained before it have none). */
  explanationsFile?: ExplanationsFile | undefined;
}

/** Each score's version and training reference. */
function scoreReferences({ manifests, ensemble }: ReferenceSource) {
  const models = MODEL_NAMES.map((m) => ({
    name: m,
    version: manifests[m].version,
    ref: manifests[m].drift.score,
  }));
  return ensemble
    ? [...models, { name: 'ensemble' as ScoreName, version: ensemble.version, ref: ensemble.drift.score }]
    : models;
}

export function driftReferenceRows(version: string, source: ReferenceSource) {
  const { manifests } = source;
  const writtenAt = Math.floor(Date.now() / 1000);
  // The four manifests hold the same feature reference (one training split); rf's is used.
  const features = Object.entries(manifests.rf.drift.features).map(([name, ref]) => ({
    version,
    subject: 'feature',
    name,
    model_version: '',
    ...referenceColumns(ref),
    written_at: writtenAt,
  }));
  const scores = scoreReferences(source).map((s) => ({
    version,
    subject: 'score',
    name: s.name,
    model_version: s.version,
    ...referenceColumns(s.ref),
    written_at: writtenAt,
  }));
  return [...features, ...scores];
}

export async function writeDriftReferences(
  client: ClickHouseClient,
  version: string,
  source: ReferenceSource,
) {
  await client.insert({
    table: 'drift_references',
    format: 'JSONEachRow',
    values: driftReferenceRows(version, source),
  });
  const attribution = attributionReferenceRows(source);
  if (attribution.length)
    await client.insert({ table: 'attribution_references', format: 'JSONEachRow', values: attribution });
}

/** Each score's mean |SHAP| per feature on training rows, by the score's model version. */
export function attributionReferenceRows(source: ReferenceSource) {
  const file = source.explanationsFile;
  if (!file) return [];
  const writtenAt = Math.floor(Date.now() / 1000);
  return scoreReferences(source).flatMap((s) =>
    (file.reference.meanAbs[s.name] ?? []).map((meanAbs, j) => ({
      model_version: s.version,
      feature: file.features[j]!,
      mean_abs: meanAbs,
      written_at: writtenAt,
    })),
  );
}

export interface VersionReferences {
  features: Record<string, BinnedReference>;
  /** The four models', and the ensemble's when the version has one. */
  scores: Record<ModelName, BinnedReference> & { ensemble?: BinnedReference };
}

export const referencesOf = (source: ReferenceSource): VersionReferences => ({
  features: source.manifests.rf.drift.features,
  scores: Object.fromEntries(
    scoreReferences(source).map((s) => [s.name, s.ref]),
  ) as VersionReferences['scores'],
});

export const driftReferencesSql = (version: string) =>
  sql`SELECT * FROM drift_references FINAL WHERE version = ${version}`;

/** drift_references rows back into references; undefined when the version has none (or not all). */
export function parseDriftReferences(rows: Record<string, unknown>[]): VersionReferences | undefined {
  const toReference = (r: Record<string, unknown>): BinnedReference => {
    const edges = Array.from({ length: REFERENCE_BINS - 1 }, (_, k) => Number(r[`e${k + 1}`])).filter(
      (e) => e < NO_EDGE,
    );
    const proportions = Array.from({ length: edges.length + 1 }, (_, k) => Number(r[`p${k}`]));
    return { edges, proportions };
  };
  const features = Object.fromEntries(
    rows.filter((r) => r.subject === 'feature').map((r) => [String(r.name), toReference(r)]),
  );
  const scores = Object.fromEntries(
    rows.filter((r) => r.subject === 'score').map((r) => [String(r.name), toReference(r)]),
  ) as VersionReferences['scores'];
  if (!Object.keys(features).length || MODEL_NAMES.some((m) => !scores[m])) return undefined;
  return { features, scores };
}
