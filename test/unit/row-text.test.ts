/**
 * The worker's direct text writers give exactly the text that encoding the objects gives
 * (warehouse/rows.ts stays the definition): the JSONEachRow lines of its tables, and the
 * predictions topic's messages (warehouse/feed-text.ts). For random events, with every optional
 * field present or absent, strings that need escaping, live and shadow rows, four or five scores.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BatchPrediction } from '../../models/model-set.ts';
import { FEATURE_NAMES, MODEL_NAMES, type TrackFeatures } from '../../schemas/index.ts';
import { feedMessages } from '../../warehouse/feed-text.ts';
import { predictionRowsText, trackRowsText } from '../../warehouse/row-text.ts';
import {
  encodeRows,
  predictionOrigins,
  predictionRows,
  type Scored,
  scoredEvents,
  shadowPredictionRows,
  trackRow,
} from '../../warehouse/rows.ts';

const good = (
  JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: TrackFeatures;
  }
).value;
const text = fc.string({ unit: fc.integer({ min: 0x20, max: 0x2fff }).map((c) => String.fromCharCode(c)) });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const scoredEvent = fc
  .record({
    eventId: fc.oneof(fc.uuid(), text),
    track_id: text,
    track_name: optional(text),
    artists: optional(text),
    album_name: optional(text),
    track_genre: optional(text),
    popularity: optional(fc.integer({ min: 0, max: 100 })),
    time: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
    values: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), {
      minLength: FEATURE_NAMES.length,
      maxLength: FEATURE_NAMES.length,
    }),
    explicit: fc.boolean(),
    offset: fc.nat(),
  })
  .map((r): Scored => {
    const event = { ...good, track_id: r.track_id, event_time: new Date(r.time).toISOString() } as Record<
      string,
      unknown
    >;
    for (const k of ['track_name', 'artists', 'album_name', 'track_genre', 'popularity'] as const)
      if (r[k] === undefined) delete event[k];
      else event[k] = r[k];
    FEATURE_NAMES.forEach((f, j) => (event[f] = f === 'explicit' ? r.explicit : r.values[j]));
    return {
      eventId: r.eventId,
      event: event as unknown as TrackFeatures,
      origin: { topic: 't', partition: 1, offset: String(r.offset) },
    };
  });

function prediction(n: number, withEnsemble: boolean, seed: number, masks = false): BatchPrediction {
  const names = withEnsemble ? [...MODEL_NAMES, 'ensemble' as const] : [...MODEL_NAMES];
  return {
    names,
    scores: Object.fromEntries(
      names.map((m, k) => [
        m,
        Float32Array.from({ length: n }, (_, i) => ((seed + i * 7.31 + k) % 100) - 3.3),
      ]),
    ),
    tabnetMasks: masks
      ? Float32Array.from({ length: n * FEATURE_NAMES.length }, (_, k) => ((seed * 13 + k * 0.377) % 1) / 7)
      : new Float32Array(0),
    inferenceUs: Object.fromEntries(names.map((m, k) => [m, 3.25 + k])),
  } as unknown as BatchPrediction;
}

test('track_events text equals the encoded row objects', () => {
  fc.assert(
    fc.property(fc.array(scoredEvent, { maxLength: 8 }), fc.date({ noInvalidDate: true }), (batch, at) => {
      const direct = trackRowsText(batch, at);
      const reference = encodeRows(
        batch.map((s) => trackRow(s, at)),
        batch.map((s) => s.origin),
      );
      assert.equal(direct.text, reference.text);
      assert.equal(direct.rows, reference.rows);
      assert.deepEqual(direct.origins, reference.origins);
    }),
    { seed: 20261204, numRuns: 300 },
  );
});

test('predictions and shadow_predictions text equals the encoded row objects, four or five scores', () => {
  fc.assert(
    fc.property(
      fc.array(scoredEvent, { maxLength: 8 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1000 }),
      fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
      (batch, withEnsemble, seed, at) => {
        const pred = prediction(batch.length, withEnsemble, seed);
        const versions = Object.fromEntries(pred.names.map((m) => [m, `${m}-run "1"`])) as never;
        const live = predictionRowsText(batch, pred, versions, at);
        assert.equal(live.text, encodeRows(predictionRows(batch, pred, versions, at), []).text);
        assert.deepEqual(live.origins, predictionOrigins(batch, pred));
        assert.equal(live.rows, batch.length * pred.names.length);
        const shadow = predictionRowsText(batch, pred, versions, at, 'set-2');
        assert.equal(
          shadow.text,
          encodeRows(shadowPredictionRows(batch, pred, 'set-2', versions, at), []).text,
        );
      },
    ),
    { seed: 20261204, numRuns: 300 },
  );
});

test('predictions topic messages equal the stringified scored events, with and without a shadow', () => {
  fc.assert(
    fc.property(
      fc.array(scoredEvent, { maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 1000 }),
      fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
      (batch, withEnsemble, withShadow, seed, at) => {
        const pred = prediction(batch.length, withEnsemble, seed, true);
        const live = {
          version: 'set "1"',
          versions: Object.fromEntries(pred.names.map((m) => [m, `${m}-run \\1`])) as never,
        };
        // A shadow version need not hold the same scores (one without an ensemble, say).
        const shadow = withShadow
          ? { version: 'set-2', pred: prediction(batch.length, !withEnsemble, seed + 1) }
          : undefined;
        const direct = feedMessages(batch, pred, live, at, shadow);
        const reference = scoredEvents(batch, pred, live, at, shadow);
        assert.deepEqual(
          direct.map((m) => m.value),
          reference.map((e) => JSON.stringify(e)),
        );
        assert.deepEqual(
          direct.map((m) => m.key),
          batch.map((s) => s.event.track_id),
        );
      },
    ),
    { seed: 20261207, numRuns: 300 },
  );
});
