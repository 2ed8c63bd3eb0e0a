/**
 * Row text kept as UTF-8 in reused buffers until its insert, instead of as strings.
 *
 * Why: a worker holds up to two seconds of rows between inserts (writer.ts), ~1.9 KB of text per
 * event. As strings they outlived V8's young generation, so every scavenge copied them (the row
 * texts and their join were ~45% of what survived one, heap sampling 2026-12-06) and the join
 * before each insert flattened megabytes. Encoded into fresh Buffers instead, V8 counted the new
 * off-heap memory and ran a full mark-compact about every second (measured, reverted). Buffers
 * taken from a pool and given back after their insert allocate nothing once the pool has grown
 * to a write's size, so neither happens.
 */

/** Size of one pooled buffer: a write at 1,000 events/s holds ~3 of them per table. */
export const CHUNK_BYTES = 1 << 20;
/** UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;
const UNITS_PER_CHUNK = Math.floor(CHUNK_BYTES / MAX_BYTES_PER_UNIT);

export class ChunkPool {
  private readonly free: Buffer[] = [];

  /** `keepBytes`: the most the pool holds on to between writes; more is left to the GC. */
  constructor(private readonly keepBytes = 64 * CHUNK_BYTES) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }

  /** Gives buffers back once nothing reads them any more (their insert succeeded). */
  release(chunks: readonly Buffer[]) {
    for (const c of chunks) if (this.free.length * CHUNK_BYTES < this.keepBytes) this.free.push(c);
  }

  /** Buffers waiting to be reused (for tests). */
  get idle(): number {
    return this.free.length;
  }
}

/** Text appended as UTF-8 into the pool's buffers. */
export class ByteChunks {
  private readonly chunks: Buffer[] = [];
  /** Bytes written into each buffer (a buffer is left when the next piece may not fit). */
  private readonly lengths: number[] = [];

  constructor(private readonly pool: ChunkPool) {}

  append(text: string) {
    for (let from = 0; from < text.length;) {
      let to = Math.min(text.length, from + UNITS_PER_CHUNK);
      // A surrogate pair stays in one piece: split, each half would be written as U+FFFD.
      if (to < text.length && isHighSurrogate(text.charCodeAt(to - 1))) to--;
      const piece = from === 0 && to === text.length ? text : text.slice(from, to);
      const room = CHUNK_BYTES - (this.lengths.at(-1) ?? CHUNK_BYTES);
      if (room < piece.length * MAX_BYTES_PER_UNIT) {
        this.chunks.push(this.pool.take());
        this.lengths.push(0);
      }
      const at = this.lengths.length - 1;
      this.lengths[at]! += this.chunks[at]!.write(piece, this.lengths[at]!, 'utf8');
      from = to;
    }
  }

  /** The bytes appended so far, as views of the buffers (valid until `release`). */
  bytes(): Buffer[] {
    return this.chunks.map((c, i) => c.subarray(0, this.lengths[i]));
  }

  /** Hands the buffers back to the pool; this object is empty afterwards. */
  release() {
    this.pool.release(this.chunks);
    this.chunks.length = 0;
    this.lengths.length = 0;
  }
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
