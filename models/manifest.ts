import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../lib/errors.ts';
import type { ModelName } from '../schemas/prediction.ts';
import type { contextReader, StoredPreprocessing } from './context.ts';
import type { BinnedReference } from './drift-reference.ts';
import type { Preprocessing } from './features.ts';
import type { Metrics } from './metrics.ts';

export const MANIFEST_FILE = 'manifest.json';

/**
 * models/artifacts/<name>/manifest.json: everything needed to load, explain and monitor a model,
 * with its preprocessing whole (as read by `readManifest`).
 */
export interface ModelManifest {
  name: ModelName;
  version: string;
  created: string;
  files: string[];
  features: string[];
  preprocessing: Preprocessing;
  training: {
    dataSha256: string;
    dataRows: number;
    trainRows: number;
    testRows: number;
    /** `all-rows`: refitted on train and test rows after evaluation; `split`: the evaluated fit. */
    fit?: 'split' | 'all-rows';
    protocol: 'grouped';
    seed: number;
    seconds: number;
  };
  hyperparameters: Record<string, unknown>;
  metrics: { grouped: Metrics; seed?: Metrics };
  importance: number[] | undefined;
  drift: { features: Record<string, BinnedReference>; score: BinnedReference };
  sizeBytes: number;
}

/** A manifest as its file holds it: the context tables inline (older sets) or named (context.ts). */
export type StoredManifest = Omit<ModelManifest, 'preprocessing'> & { preprocessing: StoredPreprocessing };

/** `<setDir>/<name>/manifest.json` as stored. */
export async function readStoredManifest(setDir: string, name: ModelName): Promise<StoredManifest> {
  const path = join(setDir, name, MANIFEST_FILE);
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new HitstreamError(
      'MODEL_MISSING',
      `no trained ${name} model in ${join(setDir, name)}: run \`npx hitstream train --data PATH\``,
      { cause: err },
    );
  });
  return JSON.parse(text) as StoredManifest;
}

/** A manifest with its preprocessing whole: the set's context file read (once per reader) and checked. */
export async function readManifest(
  setDir: string,
  name: ModelName,
  context: ReturnType<typeof contextReader>,
): Promise<ModelManifest> {
  const stored = await readStoredManifest(setDir, name);
  return { ...stored, preprocessing: await context.resolve(stored.preprocessing) };
}
