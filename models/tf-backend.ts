/**
 * Picks the TensorFlow.js backend once per process: tfjs-node (native) when it is installed and
 * loads, else WebAssembly. Never the plain-JS `cpu` backend silently: it is ~5x slower (STACK.md),
 * so it is used only when HITSTREAM_TF_ALLOW_CPU=true says so.
 */
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { installWasmSpeedups } from './wasm-speedups.ts';

let ready: Promise<string> | undefined;

async function pick(): Promise<string> {
  const log = createLogger('tf-backend');
  try {
    // Optional dependency: its install step downloads libtensorflow, which fails offline.
    // A variable specifier: TypeScript must not require the package's types where it is absent.
    const nativeBackend: string = '@tensorflow/tfjs-node';
    await import(nativeBackend);
    if (await tf.setBackend('tensorflow')) return 'tensorflow';
  } catch {
    /* not installed or not loadable: fall through to wasm */
  }
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      installWasmSpeedups();
      return 'wasm';
    }
  } catch (err) {
    log.warn({ err }, 'wasm backend failed to load');
  }
  if (loadConfig().tfAllowCpu && (await tf.setBackend('cpu'))) {
    log.warn('TensorFlow.js runs on the plain-JS cpu backend (about 5x slower than wasm)');
    return 'cpu';
  }
  throw new HitstreamError(
    'TF_NO_BACKEND',
    'neither @tensorflow/tfjs-node nor @tensorflow/tfjs-backend-wasm loads; set HITSTREAM_TF_ALLOW_CPU=true to accept the slow cpu backend',
  );
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
