/**
 * Dead letters a person can act on: list the stored ones, and republish their payloads to the
 * tracks topic once their cause is fixed (a producer repaired, a schema widened). A payload is
 * checked with the workers' own decoder first: one that would fail again is reported with its
 * reason and left alone. Each republished message is recorded in dead_letter_redrives, so a
 * second redrive skips it, and carries a stable event id, so it is stored once however often a
 * redrive is retried.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import type { Config } from '../lib/config.ts';
import { sql } from '../lib/sql.ts';
import { decodeTrackMessage } from '../schemas/track-message.ts';
import type { Publisher } from './publisher.ts';
import { EVENT_ID_HEADER } from '../schemas/index.ts';

export interface StoredDeadLetter {
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  message_key: string;
  error_code: string;
  message: string;
  field: string;
  payload: string;
  payload_encoding: 'utf8' | 'base64';
  time: number;
  redriven: boolean;
}

export interface DeadLetterFilter {
  sinceSeconds: number;
  code?: string;
  limit: number;
}

/** Dead letters of the window, newest first, each with whether it was redriven already. */
export const deadLettersSql = (f: DeadLetterFilter) =>
  sql`
SELECT kafka_topic, kafka_partition, toString(kafka_offset) AS position, message_key, error_code,
  message, field, payload, payload_encoding, toUnixTimestamp(time) AS time,
  (kafka_topic, kafka_partition, kafka_offset) IN
    (SELECT kafka_topic, kafka_partition, kafka_offset FROM dead_letter_redrives) AS redriven
FROM dead_letters FINAL
WHERE time >= now() - ${f.sinceSeconds}
` +
  (f.code ? sql`  AND error_code = ${f.code}\n` : '') +
  sql`ORDER BY time DESC, kafka_topic, kafka_partition, kafka_offset
LIMIT ${f.limit}`;

export async function readDeadLetters(
  client: ClickHouseClient,
  cfg: Config,
  f: DeadLetterFilter,
): Promise<StoredDeadLetter[]> {
  try {
    const rs = await client.query({ query: deadLettersSql(f), format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    return rows.map((r) => ({
      ...(r as unknown as StoredDeadLetter),
      kafka_partition: Number(r.kafka_partition),
      kafka_offset: String(r.position),
      time: Number(r.time),
      redriven: Number(r.redriven) === 1,
    }));
  } catch (err) {
    throw classifyClickhouseError(err, {
      what: 'read the dead letters',
      url: cfg.clickhouseUrl,
      database: cfg.clickhouseDatabase,
    });
  }
}

export const payloadBytes = (d: Pick<StoredDeadLetter, 'payload' | 'payload_encoding'>) =>
  Buffer.from(d.payload, d.payload_encoding === 'base64' ? 'base64' : 'utf8');

export interface RedriveSummary {
  considered: number;
  redriven: number;
  /** Redriven before: skipped. */
  skipped: number;
  /** Would be dead letters again: code → count, with one example message. */
  stillInvalid: Record<string, { n: number; example: string }>;
  /** storage_rejected payloads are rows ClickHouse refused, not events: they cannot be republished. */
  notEvents: number;
}

export async function redriveDeadLetters(
  deps: { client: ClickHouseClient; cfg: Config; publisher: Publisher },
  f: DeadLetterFilter & { dryRun: boolean },
  progress: (done: number, total: number) => void = () => {},
): Promise<RedriveSummary> {
  const letters = await readDeadLetters(deps.client, deps.cfg, f);
  const summary: RedriveSummary = {
    considered: letters.length,
    redriven: 0,
    skipped: 0,
    stillInvalid: {},
    notEvents: 0,
  };
  const BATCH = 500;
  for (let i = 0; i < letters.length; i += BATCH) {
    const ready: { letter: StoredDeadLetter; eventId: string; bytes: Buffer }[] = [];
    for (const letter of letters.slice(i, i + BATCH)) {
      if (letter.redriven) summary.skipped++;
      else if (letter.error_code === 'storage_rejected') summary.notEvents++;
      else {
        const bytes = payloadBytes(letter);
        const decoded = decodeTrackMessage(bytes);
        if (decoded.ok)
          ready.push({
            letter,
            bytes,
            eventId: `redrive-${letter.kafka_topic}-${letter.kafka_partition}-${letter.kafka_offset}`,
          });
        else {
          const s = (summary.stillInvalid[decoded.code] ??= { n: 0, example: decoded.message });
          s.n++;
        }
      }
    }
    if (!f.dryRun && ready.length) {
      await deps.publisher.sendTo(
        deps.cfg.topicTracks,
        ready.map((r) => ({
          key: r.letter.message_key || undefined,
          value: r.bytes,
          headers: { [EVENT_ID_HEADER]: r.eventId },
        })),
      );
      // Recorded after Kafka acknowledged them: a crash in between republishes them once more,
      // under the same event ids, which stores them once.
      await deps.client.insert({
        table: 'dead_letter_redrives',
        format: 'JSONEachRow',
        values: ready.map((r) => ({
          kafka_topic: r.letter.kafka_topic,
          kafka_partition: r.letter.kafka_partition,
          kafka_offset: r.letter.kafka_offset,
          event_id: r.eventId,
          redriven_at: Math.floor(Date.now() / 1000),
        })),
      });
    }
    summary.redriven += ready.length;
    progress(Math.min(i + BATCH, letters.length), letters.length);
  }
  return summary;
}
