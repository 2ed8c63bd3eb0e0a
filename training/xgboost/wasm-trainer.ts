/**
 * Trains XGBoost through ml-xgboost's WebAssembly module with the data on the wasm heap.
 *
 * Why not `new XGBoost(...).train()`: ml-xgboost passes the training matrix as an emscripten
 * 'array' argument, which is copied onto the wasm *stack* (5 MiB). 82k rows × 15 float features +
 * labels is just over that and dies with "memory access out of bounds" (measured: 82k × 14 works,
 * 82k × 15 fails). Here the same C functions get pointers to malloc'ed heap memory instead.
 */
import { createRequire } from 'node:module';

interface EmscriptenModule {
  isReady: Promise<EmscriptenModule>;
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPF32: Float32Array;
  HEAPU8: Uint8Array;
}

const require = createRequire(import.meta.url);
let api: ReturnType<typeof bind> | undefined;

function bind(m: EmscriptenModule) {
  return {
    m,
    createModel: m.cwrap('create_model', 'number', ['number', 'number', 'number', 'number']),
    setParam: m.cwrap('set_param', null, ['number', 'string', 'string']),
    train: m.cwrap('train_full_model', null, ['number', 'number']),
    saveModel: m.cwrap('save_model', 'number', ['number']),
    getFileContent: m.cwrap('get_file_content', null, ['number', 'number']),
    free: m.cwrap('free_memory_model', null, ['number']),
  };
}

async function load() {
  const mod = require('ml-xgboost/dist/wasm/xgboost.js') as EmscriptenModule;
  api ??= bind(await mod.isReady);
  return api;
}

function copyToHeap(m: EmscriptenModule, data: Float32Array): number {
  const ptr = m._malloc(data.byteLength);
  m.HEAPF32.set(data, ptr / 4);
  return ptr;
}

/** Trains a booster and returns XGBoost's saved binary model. */
export async function trainXgboostBinary(
  X: Float32Array,
  y: Float32Array,
  f: number,
  params: Record<string, string | number>,
  iterations: number,
): Promise<Uint8Array> {
  const a = await load();
  const xPtr = copyToHeap(a.m, X);
  const yPtr = copyToHeap(a.m, y);
  const model = a.createModel(xPtr, yPtr, y.length, f);
  try {
    for (const [k, v] of Object.entries(params)) a.setParam(model, k, String(v));
    a.train(model, iterations);
    const size = a.saveModel(model);
    if (size <= 0) throw new Error('XGBoost could not save the model');
    const out = a.m._malloc(size);
    a.getFileContent(out, size);
    const bytes = a.m.HEAPU8.slice(out, out + size);
    a.m._free(out);
    return bytes;
  } finally {
    a.free(model);
    a.m._free(xPtr);
    a.m._free(yPtr);
  }
}
