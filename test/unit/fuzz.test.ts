/**
 * Property-based tests (fast-check, fixed seed, bounded runs) for every decoder that reads input
 * from outside: the Kafka message decoder, the NDJSON publisher input, the feed's subscribe
 * messages and the CSV reader. Random bytes, truncated UTF-8, deep JSON, huge numbers,
 * `__proto__` keys: none may throw past its boundary; each input is accepted or answered with a
 * named code, and good records around bad ones still go through.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readClientMessage } from '../../api/feed/client-messages.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { parseRecords } from '../../producers/input-records.ts';
import { validateRecords } from '../../producers/publisher.ts';
import { DEAD_LETTER_CODES } from '../../schemas/dead-letter.ts';
import { findInvalidText } from '../../schemas/json-text.ts';
import { deadLetterFor, decodeTrackMessage } from '../../scorers/decode.ts';
import { encodeRows, trackRow } from '../../warehouse/rows.ts';

const SETTINGS = { seed: 20261201, numRuns: 300 };
const CODES = new Set<string>(DEAD_LETTER_CODES);
const good = (
  JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: Record<string, unknown>;
  }
).value;

/** Any UTF-16 code unit, lone surrogates included (what a JS string can hold, JSON or not). */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
/** JSON-ish values with the nasty parts: `__proto__` keys, huge and tiny numbers, deep nesting. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(1e308, -1e308, 5e-324, 2 ** 53 + 1, -0, 0, null, true, ''),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    anyUnits,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'energy'), anyUnits),
      tie('value'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).value;

function assertDecodesOrNames(bytes: Buffer) {
  const d = decodeTrackMessage(bytes);
  if (d.ok) {
    // Whatever passes must be storable: no lone surrogate reaches a ClickHouse row.
    const text = encodeRows(
      [
        trackRow(
          { eventId: 'e', event: d.event, origin: { topic: 't', partition: 0, offset: '0' } },
          new Date(),
        ),
      ],
      [],
    ).text;
    assert.equal(findInvalidText(JSON.parse(text)), undefined, 'storable: no lone surrogate in the row');
    return;
  }
  assert.ok(CODES.has(d.code), `named code: ${d.code}`);
  assert.equal(typeof d.message, 'string');
  // The dead letter keeps the payload whole, whatever it was.
  const dl = deadLetterFor(d, { value: bytes, key: null, offset: '1' }, 't', 0, new Date());
  const back =
    dl.payload_encoding === 'base64' ? Buffer.from(dl.payload, 'base64') : Buffer.from(dl.payload, 'utf8');
  assert.ok(back.equals(bytes), 'payload round-trips');
}

test('Kafka decoder: random bytes never throw; each is an event or a named dead letter that keeps the bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => assertDecodesOrNames(Buffer.from(b))),
    SETTINGS,
  );
});

test('Kafka decoder: hostile JSON values never throw', () => {
  fc.assert(
    fc.property(hostileJson, (v) => assertDecodesOrNames(Buffer.from(JSON.stringify(v) ?? 'null'))),
    SETTINGS,
  );
});

test('Kafka decoder: a valid event with any text in its string fields is accepted only when storable', () => {
  fc.assert(
    fc.property(
      anyUnits,
      fc.constantFrom('track_id', 'track_name', 'artists', 'album_name', 'track_genre'),
      (s, field) => assertDecodesOrNames(Buffer.from(JSON.stringify({ ...good, [field]: s }))),
    ),
    SETTINGS,
  );
});

test('Kafka decoder: a valid event cut anywhere (truncated UTF-8 included) is a named dead letter', () => {
  const bytes = Buffer.from(JSON.stringify({ ...good, track_name: 'Beyoncé 東京 🎵' }));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (cut) => {
      const d = decodeTrackMessage(bytes.subarray(0, cut));
      assert.equal(d.ok, false);
      if (!d.ok) assert.ok(['empty_message', 'malformed_json', 'invalid_text'].includes(d.code), d.code);
    }),
    SETTINGS,
  );
});

test('Kafka decoder: nesting at any depth is refused as too_deep past the limit, never a stack overflow', () => {
  fc.assert(
    fc.property(fc.integer({ min: 17, max: 30_000 }), fc.constantFrom('[', '{"a":'), (depth, open) => {
      const close = open === '[' ? ']' : '}';
      const d = decodeTrackMessage(Buffer.from(`${open.repeat(depth)}1${close.repeat(depth)}`));
      assert.ok(!d.ok && (d.code === 'too_deep' || d.code === 'oversized_message'), d.ok ? 'ok' : d.code);
    }),
    { ...SETTINGS, numRuns: 50 },
  );
});

test('NDJSON input: any text never throws; each line is a record or a named error; good lines around bad ones are kept', () => {
  const goodLine = JSON.stringify({ ...good, track_id: 'kept' });
  fc.assert(
    fc.property(anyUnits, fc.uint8Array({ maxLength: 200 }), (junk, bytes) => {
      for (const text of [junk, Buffer.from(bytes).toString('utf8')]) {
        for (const r of parseRecords(text)) if (!r.ok) assert.ok(CODES.has(r.error.code), r.error.code);
        // Validation of whatever came out answers per record, never throws.
        validateRecords(parseRecords(text).flatMap((r) => (r.ok ? [r.value] : [])));
      }
      const line = junk.replaceAll('\n', ' ');
      const records = parseRecords(`${goodLine}\n${line}\n${goodLine}`);
      const kept = validateRecords(records.flatMap((r) => (r.ok ? [r.value] : []))).accepted;
      assert.ok(kept.filter((e) => e.event.track_id === 'kept').length >= 2, 'both good lines go through');
    }),
    SETTINGS,
  );
});

test('feed subscribe messages: any bytes are a subscription or an error reply with a code', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
        hostileJson.map((v) => Buffer.from(JSON.stringify({ type: 'subscribe', genre: v }) ?? '')),
        hostileJson.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      ),
      (data) => {
        const m = readClientMessage(data);
        if (m.ok) assert.equal((m.reply as { type: string }).type, 'subscribed');
        else assert.ok(m.reply.type === 'error' && m.reply.code.length > 0);
      },
    ),
    SETTINGS,
  );
});

const dir = mkdtempSync(join(tmpdir(), 'hs-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const HEADER =
  'track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre';
const csvRow = (id: string) => `${id},A,B,C,50,200000,False,0.5,0.6,1,-5.5,1,0.05,0.1,0,0.1,0.4,120,4,pop`;

test('CSV reader: random bytes give rows or a named error (DATA_*), never another exception', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, withHeader) => {
      const path = join(dir, 'random.csv');
      writeFileSync(path, Buffer.concat([Buffer.from(withHeader ? `${HEADER}\n` : ''), Buffer.from(bytes)]));
      try {
        const { tracks, errors } = await loadKaggleCsv(path);
        for (const e of errors) assert.match(e.message, /^row \d+, column \w+: /);
        assert.ok(tracks.length + errors.length >= 0);
      } catch (err) {
        assert.ok(err instanceof HitstreamError && err.code.startsWith('DATA_'), String(err));
      }
    }),
    { ...SETTINGS, numRuns: 150 },
  );
});

test('CSV reader: a garbage row between good rows is named by row; the good rows are read', async () => {
  await fc.assert(
    fc.asyncProperty(
      // Without quotes or line breaks: a stray quote can legitimately swallow the rest of a file.
      anyUnits.map((s) => s.replace(/["\r\n]/g, '')),
      async (junk) => {
        const path = join(dir, 'mixed.csv');
        writeFileSync(path, `${HEADER}\n${csvRow('g1')}\n${junk}\n${csvRow('g2')}\n`);
        const { tracks } = await loadKaggleCsv(path);
        const ids = tracks.map((t) => t.track_id);
        assert.ok(ids.includes('g1') && ids.includes('g2'), `good rows kept around ${JSON.stringify(junk)}`);
      },
    ),
    { ...SETTINGS, numRuns: 150 },
  );
});
