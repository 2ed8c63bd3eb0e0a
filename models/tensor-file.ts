/** The two TensorFlow.js models' weights file: named tensors in one binary plus a JSON index. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from './tf-backend.ts';

/** Saves named tensors as one weights file plus a JSON index (shape, offset). */
export async function saveTensors(dir: string, tensors: Record<string, tf.Tensor>): Promise<string[]> {
  const index: Record<string, { shape: number[]; offset: number; length: number }> = {};
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const data = (await t.data()) as Float32Array;
    index[name] = { shape: t.shape, offset, length: data.length };
    parts.push(data);
    offset += data.length;
  }
  const all = new Float32Array(offset);
  let o = 0;
  for (const p of parts) all.set(p, (o += p.length) - p.length);
  await writeFile(join(dir, 'weights.bin'), Buffer.from(all.buffer));
  await writeFile(join(dir, 'weights.json'), JSON.stringify(index));
  return ['weights.bin', 'weights.json'];
}

export async function loadTensors(dir: string): Promise<Record<string, tf.Tensor>> {
  const index = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8')) as Record<
    string,
    { shape: number[]; offset: number; length: number }
  >;
  const buf = await readFile(join(dir, 'weights.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: Record<string, tf.Tensor> = {};
  for (const [name, s] of Object.entries(index))
    out[name] = tf.tensor(all.subarray(s.offset, s.offset + s.length), s.shape);
  return out;
}
