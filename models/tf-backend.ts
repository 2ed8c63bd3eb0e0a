/**
 * Sets the TensorFlow.js backend once per process, as HITSTREAM_TF_BACKEND says: `wasm` (the
 * default, and the only one the tests run), `tensorflow` (tfjs-node: native libtensorflow, which
 * installs only where its install script may download it; not a dependency of hitstream) or
 * `cpu` (plain JS, ~5x slower, STACK.md). No fallback: a process scores with the backend it was
 * told to, or stops and says why. Before, an image built where tfjs-node installed scored with
 * a backend nothing here had ever run.
 */
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { installWasmSpeedups } from './wasm-speedups.ts';

let ready: Promise<string> | undefined;

const unavailable = (backend: string, why: string, cause: unknown) =>
  new HitstreamError('TF_NO_BACKEND', `HITSTREAM_TF_BACKEND=${backend}: ${why}`, {
    cause,
    field: 'HITSTREAM_TF_BACKEND',
  });

async function pick(): Promise<string> {
  const backend = loadConfig().tfBackend;
  if (backend === 'tensorflow') {
    try {
      // A variable specifier: TypeScript must not require the package's types where it is absent.
      const nativeBackend: string = '@tensorflow/tfjs-node';
      await import(nativeBackend);
    } catch (err) {
      throw unavailable(
        backend,
        '@tensorflow/tfjs-node does not load: `npm install @tensorflow/tfjs-node` (with its install script allowed), or use wasm',
        err,
      );
    }
    if (!(await tf.setBackend('tensorflow')))
      throw unavailable(backend, 'tfjs-node loaded but its backend did not start', undefined);
    return backend;
  }
  if (backend === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
      await tf.ready();
    } catch (err) {
      throw unavailable(
        backend,
        '@tensorflow/tfjs-backend-wasm does not load (HITSTREAM_TF_BACKEND=cpu runs without it, ~5x slower)',
        err,
      );
    }
    installWasmSpeedups();
    return backend;
  }
  if (!(await tf.setBackend('cpu'))) throw unavailable(backend, 'the cpu backend did not start', undefined);
  createLogger('tf-backend').warn(
    'TensorFlow.js runs on the plain-JS cpu backend (about 5x slower than wasm)',
  );
  return backend;
}

/** Resolves to the active backend's name, logging it once. */
export function tfReady(): Promise<string> {
  ready ??= pick().then((name) => {
    createLogger('tf-backend').info({ backend: name }, `TensorFlow.js backend: ${name}`);
    return name;
  });
  return ready;
}

export { tf };
