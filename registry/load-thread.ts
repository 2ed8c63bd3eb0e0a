/**
 * A version fetched and decoded off the scoring thread. A worker thread downloads it from the
 * registry (a JSON answer of megabytes of base64, checked by SHA-256), writes it to `parent`, and
 * inflates and decodes its two tree models; their typed arrays are transferred, not copied. The
 * neural nets (~100 KB each) are built by the caller: tfjs belongs to the thread that scores.
 * On the scoring thread these steps stalled live batches for up to ~40 ms at a time (bench swap).
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import type { DecodedTrees } from '../models/tree-decoding.ts';

export interface FetchedVersion {
  dir: string;
  decoded: DecodedTrees;
}

/** What the thread posts back: the folder and arrays, or why it failed. */
export type LoadThreadReply =
  ({ ok: true } & FetchedVersion) | { ok: false; code: string; message: string; status?: number };

export interface LoadThreadInput {
  cfg: Config;
  version: string;
  parent: string;
}

const THREAD_MAIN = new URL('./load-thread-main.ts', import.meta.url).href;
// Processes run TypeScript through tsx (bin/hitstream.js registers it); a worker thread starts
// without it, so its first act is to register it too.
const BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(THREAD_MAIN)}); });`;

export function fetchVersionInThread(input: LoadThreadInput, script = BOOT): Promise<FetchedVersion> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { eval: true, workerData: input });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (reply: LoadThreadReply) =>
      settle(() =>
        reply.ok
          ? resolve({ dir: reply.dir, decoded: reply.decoded })
          : reject(
              new HitstreamError(reply.code, reply.message, {
                ...(reply.status ? { status: reply.status } : {}),
              }),
            ),
      ),
    );
    worker.once('error', (err: Error) =>
      settle(() =>
        reject(
          new Error(`loading ${input.version} in a worker thread failed: ${err.message}`, { cause: err }),
        ),
      ),
    );
    worker.once('exit', (code) =>
      settle(() =>
        reject(new Error(`the thread loading ${input.version} exited (${code}) before answering`)),
      ),
    );
  });
}
