/**
 * `hitstream train`: reads a Kaggle-format CSV or the labelled events stored in ClickHouse,
 * evaluates the chosen models under both protocols, refits the grouped-protocol models on every
 * row for the deployed artifacts (the report keeps the held-out numbers of the split fit), and
 * writes models/report.json, models/REPORT.md and the charts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../lib/errors.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { trainProtocol } from './evaluate.ts';
import type { TrainOptions } from './options.ts';
import { protocolInChild } from './protocol-child.ts';
import { writeReport } from './report.ts';
import type { Protocol, TrainReport } from './results.ts';
import { addSeedMetricsToManifests } from './ship.ts';
import { loadTrainingData, type TrainingSource } from './source.ts';

/**
 * Retraining a subset (`--models tabnet`) keeps the other models' results from the previous
 * report when it was made from the same data and seed; otherwise the new report stands alone.
 */
async function mergeWithPrevious(report: TrainReport, path: string): Promise<TrainReport> {
  let prev: TrainReport;
  try {
    prev = JSON.parse(await readFile(path, 'utf8')) as TrainReport;
  } catch {
    return report;
  }
  if (prev.data?.sha256 !== report.data.sha256 || prev.seed !== report.seed) return report;
  const protocols = { ...prev.protocols };
  for (const [p, section] of Object.entries(report.protocols) as [
    Protocol,
    NonNullable<TrainReport['protocols'][Protocol]>,
  ][]) {
    const old = protocols[p];
    // An ensemble of other fits would be stale: it stays only when this run fitted one.
    protocols[p] = old
      ? { ...old, ...section, features: { ...old.features, ...section.features }, ensemble: section.ensemble }
      : section;
  }
  return { ...report, protocols };
}

export const sourceOf = (opts: TrainOptions): TrainingSource =>
  opts.source ?? { kind: 'csv', path: opts.data ?? '' };

export async function train(opts: TrainOptions): Promise<TrainReport> {
  const { log } = opts;
  const outDir = opts.outDir ?? ARTIFACTS_DIR;
  const source = sourceOf(opts);
  log(`reading ${source.kind === 'clickhouse' ? 'the labelled events in ClickHouse' : source.path}`);
  const data = await loadTrainingData(source);
  for (const e of data.problems.slice(0, 5)) log(`skipping ${e}`);
  if (data.problems.length > 5) log(`… and ${data.problems.length - 5} more bad rows`);
  const rows = data.rows;
  const minRows = opts.minRows ?? 50;
  if (rows.length < minRows)
    throw new HitstreamError(
      'TRAIN_TOO_FEW_ROWS',
      `${data.description}: ${rows.length} usable labelled rows (of ${data.readRows} read); need at least ${minRows} to train (--min-rows)`,
      { field: '--min-rows' },
    );
  const report: TrainReport = {
    data: {
      path: data.description,
      sha256: data.sha256,
      rows: data.readRows,
      usedRows: rows.length,
      droppedRows: data.droppedRows,
      duplicateRows: data.duplicateRows,
    },
    seed: opts.seed,
    created: new Date().toISOString(),
    protocols: {},
  };
  log(
    `${rows.length} rows used (${report.data.droppedRows} dropped, ${data.duplicateRows} older copies of a track and genre replaced by a later one), data sha256 ${report.data.sha256.slice(0, 12)}…`,
  );

  // The seed protocol goes first: in one process, the grouped manifests then carry its metrics.
  const inChild = (opts.jobs ?? 1) > 1 && opts.protocols.length > 1 ? opts.protocols[0] : undefined;
  // Settled into a value at once, so a failing child cannot be an unhandled rejection meanwhile.
  const child = inChild
    ? protocolInChild(opts, inChild, rows).then(
        (section) => ({ section }),
        (error: unknown) => ({ error }),
      )
    : undefined;
  for (const protocol of opts.protocols)
    if (protocol !== inChild)
      report.protocols[protocol] = await trainProtocol(rows, protocol, opts, report, outDir);
  if (child && inChild) {
    const r = await child;
    if ('error' in r) throw r.error;
    report.protocols[inChild] = r.section;
    await addSeedMetricsToManifests(report, opts.models, outDir);
  }
  const merged = await mergeWithPrevious(report, join(outDir, '..', 'report.json'));
  await writeReport(merged, join(outDir, '..'), outDir);
  return merged;
}
