/** Copies of the checkout's models as other versions, for registry and gate tests. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyAsVersion } from '../../bench/swap.ts';

const copies: string[] = [];

/** The checkout's models under version `<id>-<suffix>`; `scaleMlp` changes its MLP's weights (a worse model). */
export function variant(suffix: string, scaleMlp?: number): string {
  const { dir } = copyAsVersion(suffix);
  copies.push(dir);
  if (scaleMlp !== undefined) {
    const path = join(dir, 'mlp', 'weights.bin');
    const b = readFileSync(path);
    const w = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < w.length; i++) w[i] = w[i]! * scaleMlp;
    writeFileSync(path, Buffer.from(w.buffer, w.byteOffset, w.byteLength));
  }
  return dir;
}

/** Removes every copy made. */
export function removeVariants(): void {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
}
