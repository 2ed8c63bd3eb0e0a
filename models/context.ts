/**
 * The context tables (genre distributions, artist means) of a model set, stored once per set in
 * `context.json` beside the model folders. Each manifest keeps the small part of its
 * preprocessing (features, means, standard deviations) and names the file with its SHA-256, so
 * the four models cannot read different tables, and a changed or truncated file is refused.
 *
 * Sets written before this file carry the tables inside each manifest; they load as they are.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HitstreamError } from '../lib/errors.ts';
import type { Preprocessing } from './features.ts';

export const CONTEXT_FILE = 'context.json';

/** What context.json holds: the fitted tables of Preprocessing. */
export type ContextTables = Pick<Preprocessing, 'genre' | 'artist'>;

/** A manifest's reference to its set's context file (a path relative to the set's folder). */
export interface ContextRef {
  file: string;
  sha256: string;
}

/** Preprocessing as a manifest stores it: its tables inline (older sets) or by reference. */
export type StoredPreprocessing =
  Preprocessing | (Omit<Preprocessing, 'genre' | 'artist'> & { context: ContextRef });

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export const referencesContext = (
  p: StoredPreprocessing,
): p is Omit<Preprocessing, 'genre' | 'artist'> & { context: ContextRef } => 'context' in p;

/** Writes the tables of `pre` as the set's context.json; returns what manifests keep instead. */
export async function writeContext(setDir: string, pre: Preprocessing): Promise<StoredPreprocessing> {
  const { genre, artist, ...kept } = pre;
  const text = JSON.stringify({ genre, artist } satisfies ContextTables);
  await writeFile(join(setDir, CONTEXT_FILE), text);
  return { ...kept, context: { file: CONTEXT_FILE, sha256: sha256(text) } };
}

/**
 * Reads a set's context files once each, checked against the checksum the manifest names:
 * `resolve` turns a stored preprocessing back into the whole one.
 */
export function contextReader(setDir: string) {
  const cache = new Map<string, Promise<ContextTables>>();
  const read = async (ref: ContextRef): Promise<ContextTables> => {
    const path = join(setDir, ref.file);
    const bytes = await readFile(path).catch((err: unknown) => {
      throw new HitstreamError('MODEL_MISSING', `${path} is named by a manifest but missing`, { cause: err });
    });
    if (sha256(bytes) !== ref.sha256)
      throw new HitstreamError(
        'MODEL_MISMATCH',
        `${path} does not match the checksum its manifests name (${ref.sha256.slice(0, 12)}…): it was changed or cut short; copy the set again`,
      );
    return JSON.parse(bytes.toString('utf8')) as ContextTables;
  };
  return {
    async resolve(stored: StoredPreprocessing): Promise<Preprocessing> {
      if (!referencesContext(stored)) return stored;
      const { context, ...kept } = stored;
      const key = `${context.file}:${context.sha256}`;
      if (!cache.has(key)) cache.set(key, read(context));
      return { ...kept, ...(await cache.get(key)!) };
    },
    /** The context files the stored preprocessings name (to push them with the set). */
    files: (stored: readonly StoredPreprocessing[]) => [
      ...new Set(stored.filter(referencesContext).map((p) => p.context.file)),
    ],
  };
}
