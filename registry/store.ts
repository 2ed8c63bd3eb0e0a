/**
 * The registry's files in ClickHouse: a version is the four model folders of one training run (with
 * their context.json, and the ensemble.json when training published one), pushed as chunks (`model_files`) and then committed by one row in `model_versions` holding every
 * file's SHA-256 and the set's. A download checks every file against it, so a corrupt or
 * incomplete upload is refused (and the process keeps what it has).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../lib/errors.ts';
import { sql } from '../lib/sql.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/prediction.ts';
import { existsSync } from 'node:fs';
import {
  ENSEMBLE_FILE,
  type EnsembleManifest,
  ensembleVersionFor,
  readEnsemble,
} from '../models/ensemble.ts';
import { ERROR_ESTIMATE_FILE } from '../models/error-estimate.ts';
import {
  EXPLANATIONS_FILE,
  explanationsVersionFor,
  readExplanations,
} from '../models/explain/explanations-file.ts';
import { contextReader } from '../models/context.ts';
import {
  MANIFEST_FILE,
  type ModelManifest,
  readStoredManifest,
  type StoredManifest,
} from '../models/manifest.ts';
import { writeDriftReferences } from './references.ts';

const CHUNK_BYTES = 1024 * 1024;

export interface VersionFile {
  path: string;
  sha256: string;
  bytes: number;
  chunks: number;
}

export interface VersionRecord {
  version: string;
  features: string[];
  files: VersionFile[];
  set_sha256: string;
  /** Grouped-protocol RMSE per model, from the manifests (for `models list`). */
  metrics: Record<string, number>;
  created: string;
  pushed_by: string;
  pushed_at: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const setChecksum = (files: VersionFile[]) => sha256(files.map((f) => `${f.path}:${f.sha256}`).join('\n'));

/** The version id of a model folder: what the four manifests' versions share after `<model>-`. */
export async function readVersionDir(dir: string) {
  const stored = {} as Record<ModelName, StoredManifest>;
  for (const m of MODEL_NAMES)
    stored[m] = await readStoredManifest(dir, m).catch((err: unknown) => {
      throw new HitstreamError(
        'version_incomplete',
        `${dir} has no ${m}/${MANIFEST_FILE}: a version is all four models`,
        { cause: err, field: '--dir' },
      );
    });
  // The set's context file (one for the four; none in sets from before it), read and checked.
  const context = contextReader(dir);
  const contextFiles = context.files(MODEL_NAMES.map((m) => stored[m].preprocessing));
  const manifests = {} as Record<ModelName, ModelManifest>;
  for (const m of MODEL_NAMES)
    manifests[m] = {
      ...stored[m],
      preprocessing: await context.resolve(stored[m].preprocessing).catch((err: unknown) => {
        throw new HitstreamError('version_incomplete', (err as Error).message, {
          cause: err,
          field: '--dir',
        });
      }),
    };
  const ids = new Set(MODEL_NAMES.map((m) => manifests[m].version.replace(new RegExp(`^${m}-`), '')));
  if (ids.size !== 1)
    throw new HitstreamError(
      'version_mixed',
      `${dir} holds models of different training runs (${[...ids].join(', ')}): train all four together`,
      { field: '--dir' },
    );
  const features = manifests.rf.features;
  for (const m of MODEL_NAMES)
    if (JSON.stringify(manifests[m].features) !== JSON.stringify(features))
      throw new HitstreamError('version_mixed', `${m} was trained on other features than rf`, {
        field: '--dir',
      });
  const version = [...ids][0]!;
  const ensemble = await readEnsemble(dir).catch((err: unknown) => {
    throw new HitstreamError('version_incomplete', (err as Error).message, { cause: err, field: '--dir' });
  });
  if (ensemble && ensemble.version !== ensembleVersionFor(version))
    throw new HitstreamError(
      'version_mixed',
      `${dir}/${ENSEMBLE_FILE} is ${ensemble.version}, of another training run than the models (${version}): train again`,
      { field: '--dir' },
    );
  return { version, manifests, ensemble, features, contextFiles };
}

/** Every file of a set (and the report, when given), read and summed: what a push uploads. */
async function readSetFiles(
  dir: string,
  set: Pick<Awaited<ReturnType<typeof readVersionDir>>, 'manifests' | 'ensemble' | 'contextFiles'>,
  opts: { reportFile?: string },
) {
  const paths = MODEL_NAMES.flatMap((m) => set.manifests[m].files.map((f) => `${m}/${f}`));
  paths.push(...set.contextFiles);
  if (set.ensemble) paths.push(ENSEMBLE_FILE);
  if (existsSync(join(dir, ERROR_ESTIMATE_FILE))) paths.push(ERROR_ESTIMATE_FILE);
  if (existsSync(join(dir, EXPLANATIONS_FILE))) paths.push(EXPLANATIONS_FILE);
  const sources = new Map(paths.map((p) => [p, join(dir, p)]));
  if (opts.reportFile) {
    paths.push('report.json');
    sources.set('report.json', opts.reportFile);
  }
  // Every file read and summed first: a version name already in the registry must name the same files.
  const contents: Buffer[] = [];
  for (const path of paths)
    contents.push(
      await readFile(sources.get(path)!).catch((err: unknown) => {
        throw new HitstreamError(
          'version_incomplete',
          `${dir}/${path} is listed in its manifest but missing`,
          {
            cause: err,
            field: '--dir',
          },
        );
      }),
    );
  const files: VersionFile[] = paths.map((path, i) => ({
    path,
    sha256: sha256(contents[i]!),
    bytes: contents[i]!.length,
    chunks: Math.max(1, Math.ceil(contents[i]!.length / CHUNK_BYTES)),
  }));
  return { paths, contents, files };
}

/** Writes each file as base64 chunks of `model_files`. */
async function uploadFiles(
  client: ClickHouseClient,
  version: string,
  paths: readonly string[],
  contents: readonly Buffer[],
  now: number,
  onProgress?: (done: number, total: number) => void,
) {
  for (const [i, path] of paths.entries()) {
    const bytes = contents[i]!;
    await client.insert({
      table: 'model_files',
      format: 'JSONEachRow',
      values: Array.from({ length: Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES)) }, (_, c) => ({
        version,
        path,
        chunk: c,
        data: bytes.subarray(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES).toString('base64'),
        pushed_at: now,
      })),
    });
    onProgress?.(i + 1, paths.length);
  }
}

/** The `model_versions` row that commits a pushed version. */
function versionRow(v: {
  version: string;
  features: string[];
  files: VersionFile[];
  manifests: Record<ModelName, ModelManifest>;
  ensemble: EnsembleManifest | undefined;
  by: string;
  now: number;
}) {
  return {
    version: v.version,
    features: JSON.stringify(v.features),
    files: JSON.stringify(v.files),
    set_sha256: setChecksum(v.files),
    metrics: JSON.stringify(
      Object.fromEntries([
        ...MODEL_NAMES.map((m) => [m, v.manifests[m].metrics.grouped.rmse]),
        ...(v.ensemble ? [['ensemble', v.ensemble.metrics.grouped.rmse]] : []),
      ]),
    ),
    created: v.manifests.rf.created,
    pushed_by: v.by,
    pushed_at: v.now,
  };
}

export function createModelStore(client: ClickHouseClient) {
  async function rows<T>(query: string): Promise<T[]> {
    return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  }
  const parseRecord = (r: Record<string, string>): VersionRecord => ({
    version: r.version!,
    features: JSON.parse(r.features!) as string[],
    files: JSON.parse(r.files!) as VersionFile[],
    set_sha256: r.set_sha256!,
    metrics: JSON.parse(r.metrics!) as Record<string, number>,
    created: r.created!,
    pushed_by: r.pushed_by!,
    pushed_at: r.pushed_at!,
  });

  return {
    /** Every committed version, oldest first. */
    async list(): Promise<VersionRecord[]> {
      return (
        await rows<Record<string, string>>('SELECT * FROM model_versions FINAL ORDER BY pushed_at, version')
      ).map(parseRecord);
    },

    async get(version: string): Promise<VersionRecord | undefined> {
      const [r] = await rows<Record<string, string>>(
        sql`SELECT * FROM model_versions FINAL WHERE version = ${version}`,
      );
      return r ? parseRecord(r) : undefined;
    },

    /**
     * Uploads `dir` (the four models of one run) as a version, files first and the version row
     * last (idempotent per version); `reportFile`, when given, travels
     * with it as `report.json` (the training report, `train --push`).
     */
    async push(
      dir: string,
      by: string,
      onProgress?: (done: number, total: number) => void,
      opts: { reportFile?: string } = {},
    ) {
      const { version, manifests, ensemble, features, contextFiles } = await readVersionDir(dir);
      const now = Math.floor(Date.now() / 1000);
      const { paths, contents, files } = await readSetFiles(dir, { manifests, ensemble, contextFiles }, opts);
      const existing = await this.get(version);
      if (existing && existing.set_sha256 !== setChecksum(files))
        throw new HitstreamError(
          'version_conflict',
          `version ${version} is in the registry already with other files (pushed by ${existing.pushed_by}): a version name is the training run's start (to the second), data and seed, so only a copy of another run's folder with changed files makes the same name; train again, or push to a fresh registry`,
          { field: '--dir' },
        );
      // The same files again: uploaded again, which also repairs a version whose chunks were lost.
      await uploadFiles(client, version, paths, contents, now, onProgress);
      const record = versionRow({ version, features, files, manifests, ensemble, by, now });
      // References before the version row: a committed version always has its drift references.
      const explanations = await readExplanations(dir);
      await writeDriftReferences(client, version, {
        manifests,
        ensemble,
        explanationsFile:
          explanations?.version === explanationsVersionFor(version) ? explanations : undefined,
      });
      await client.insert({ table: 'model_versions', format: 'JSONEachRow', values: [record] });
      return { version, files: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0) };
    },

    /**
     * Writes `version`'s files under `dir/<version>` (through a temporary folder, renamed when all
     * are checked) and returns that folder. Refuses a version whose files do not match their
     * checksums, or whose chunks are missing.
     */
    async download(version: string, dir: string): Promise<string> {
      const record = await this.get(version);
      if (!record) throw new HitstreamError('unknown_version', `version ${version} is not in the registry`);
      if (setChecksum(record.files) !== record.set_sha256)
        throw new HitstreamError(
          'version_corrupt',
          `version ${version}: its file list does not match its checksum`,
        );
      const target = join(dir, version);
      const temp = `${target}.partial-${process.pid}`;
      await rm(temp, { recursive: true, force: true });
      for (const f of record.files) {
        const parts = await rows<{ chunk: number; data: string }>(
          sql`SELECT chunk, data FROM model_files FINAL WHERE version = ${version} AND path = ${f.path} ORDER BY chunk`,
        );
        const bytes = Buffer.concat(parts.map((p) => Buffer.from(p.data, 'base64')));
        if (parts.length !== f.chunks || sha256(bytes) !== f.sha256)
          throw new HitstreamError(
            'version_corrupt',
            `version ${version}: ${f.path} does not match its checksum (${parts.length} of ${f.chunks} chunks): push it again`,
          );
        await mkdir(join(temp, f.path, '..'), { recursive: true });
        await writeFile(join(temp, f.path), bytes);
      }
      await rm(target, { recursive: true, force: true });
      await rename(temp, target);
      return target;
    },

    async recordRoleChange(change: {
      seq: number;
      at: Date;
      by: string;
      action: string;
      version: string;
      live: string;
      shadow: string | null;
      forced: boolean;
    }) {
      await client.insert({
        table: 'model_role_changes',
        format: 'JSONEachRow',
        values: [
          {
            ...change,
            at: Math.floor(change.at.getTime() / 1000),
            shadow: change.shadow ?? '',
            forced: change.forced ? 1 : 0,
          },
        ],
      });
    },

    async roleChanges(limit = 20) {
      return rows<{
        seq: string;
        at: string;
        by: string;
        action: string;
        live: string;
        shadow: string;
        forced: number;
      }>(
        `SELECT seq, at, by, action, live, shadow, forced FROM model_role_changes ORDER BY at DESC, seq DESC LIMIT ${Number(limit)}`,
      );
    },
  };
}

export type ModelStore = ReturnType<typeof createModelStore>;
