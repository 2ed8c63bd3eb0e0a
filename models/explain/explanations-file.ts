/**
 * `explanations.json` beside the model folders, written by `train`: what explaining a set needs
 * beyond its models, of the same training run:
 * - a background sample of training rows (model features, as scored): the MLP's and TabNet's
 *   values are measured against it (sampling-shap.ts);
 * - the attribution reference: each score's mean |SHAP| per feature on training rows, against
 *   which attribution drift compares a window of live explanations.
 * A set trained before explanations has no file: its trees can still be explained when they carry
 * covers, its networks cannot.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../../lib/errors.ts';
import type { ScoreName } from '../../schemas/prediction.ts';

export const EXPLANATIONS_FILE = 'explanations.json';

/** Background rows kept: each explained row costs (features + 1) network calls per row. */
export const BACKGROUND_ROWS = 32;

export interface ExplanationsFile {
  /** `explanations-<run id>`: read only beside the models of its own run. */
  version: string;
  features: string[];
  /** BACKGROUND_ROWS training rows, model features in `features` order. */
  background: number[][];
  reference: {
    /** How many training rows the means were taken on. */
    rows: number;
    meanAbs: Partial<Record<ScoreName, number[]>>;
  };
}

export const explanationsVersionFor = (runId: string) => `explanations-${runId}`;

export async function writeExplanations(dir: string, file: ExplanationsFile): Promise<void> {
  await writeFile(join(dir, EXPLANATIONS_FILE), JSON.stringify(file));
}

/** The set's explanations file, or undefined when it has none; a malformed one is refused. */
export async function readExplanations(dir: string): Promise<ExplanationsFile | undefined> {
  const path = join(dir, EXPLANATIONS_FILE);
  let file: ExplanationsFile;
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as ExplanationsFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HitstreamError('MODEL_MISMATCH', `${path} is not readable JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const f = file?.features?.length ?? 0;
  if (!f || !Array.isArray(file.background) || file.background.some((r) => r.length !== f))
    throw new HitstreamError(
      'MODEL_MISMATCH',
      `${path} needs features and background rows of that many values: train again`,
    );
  return file;
}
