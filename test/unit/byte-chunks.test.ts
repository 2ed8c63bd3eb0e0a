/** Row text in pooled UTF-8 buffers: the bytes are the text's, whatever the pieces, and reuse is safe. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteChunks, CHUNK_BYTES, ChunkPool } from '../../warehouse/byte-chunks.ts';

const joined = (c: ByteChunks) => Buffer.concat(c.bytes());

test('appended texts come out as their UTF-8, across buffer boundaries and surrogate pairs', () => {
  // Pieces near a third of a buffer (the most one buffer takes at once) land on every boundary.
  const unit = fc.constantFrom('a', 'é', '€', '😀', '\n', '"');
  const piece = fc
    .tuple(fc.array(unit, { maxLength: 40 }), fc.integer({ min: 0, max: CHUNK_BYTES / 2 }))
    .map(([units, pad]) => 'x'.repeat(pad) + units.join(''));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), (texts) => {
      const chunks = new ByteChunks(new ChunkPool());
      for (const t of texts) chunks.append(t);
      assert.ok(joined(chunks).equals(Buffer.from(texts.join(''), 'utf8')));
    }),
    { seed: 20261207, numRuns: 40 },
  );
});

test('a text larger than a buffer is split without breaking a surrogate pair', () => {
  const big = '😀'.repeat(CHUNK_BYTES); // 2 units and 4 bytes each: four buffers and more
  const chunks = new ByteChunks(new ChunkPool());
  chunks.append(big);
  chunks.append('end\n');
  assert.ok(chunks.bytes().length > 4);
  assert.equal(joined(chunks).toString('utf8'), `${big}end\n`);
});

test('released buffers are reused, and what is written next is whole', () => {
  const pool = new ChunkPool(2 * CHUNK_BYTES);
  const first = new ByteChunks(pool);
  first.append('a'.repeat(CHUNK_BYTES / 2));
  first.append('b'.repeat(CHUNK_BYTES / 2));
  first.append('c'.repeat(CHUNK_BYTES / 2));
  const taken = first.bytes().map((b) => b.buffer);
  assert.equal(taken.length, 3);
  first.release();
  assert.equal(pool.idle, 2, 'the pool keeps at most keepBytes');
  assert.deepEqual(first.bytes(), [], 'released, the object is empty');

  const second = new ByteChunks(pool);
  second.append('row 1\n');
  second.append('row 2\n');
  assert.ok(taken.includes(second.bytes()[0]!.buffer), 'a released buffer is written again');
  assert.equal(joined(second).toString(), 'row 1\nrow 2\n');
});
