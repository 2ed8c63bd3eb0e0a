/** The worker thread of load-thread.ts: download, check, decode the trees, transfer them back. */
import { parentPort, workerData } from 'node:worker_threads';
import { createClickhouse } from '../lib/clickhouse.ts';
import { describeError, HitstreamError } from '../lib/errors.ts';
import { decodeTrees, treeBuffers } from '../models/tree-decoding.ts';
import type { LoadThreadInput, LoadThreadReply } from './load-thread.ts';
import { createModelStore } from './store.ts';

const { cfg, version, parent } = workerData as LoadThreadInput;
const ch = createClickhouse(cfg, { timeoutMs: 120_000 });
try {
  const dir = await createModelStore(ch).download(version, parent);
  const decoded = await decodeTrees(dir);
  parentPort!.postMessage({ ok: true, dir, decoded } satisfies LoadThreadReply, treeBuffers(decoded));
} catch (err) {
  parentPort!.postMessage({
    ok: false,
    code: err instanceof HitstreamError ? err.code : 'version_unloadable',
    message: describeError(err),
    ...(err instanceof HitstreamError && err.status ? { status: err.status } : {}),
  } satisfies LoadThreadReply);
} finally {
  await ch.close();
}
