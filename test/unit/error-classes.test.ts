/** The error table: every ClickHouse and Kafka failure lands in one class, by code, not wording. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClickHouseError } from '@clickhouse/client';
import {
  AuthenticationError,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka';
import { classifyClickhouseError } from '../../lib/clickhouse-errors.ts';
import { describeError } from '../../lib/errors.ts';
import { classifyKafkaError } from '../../lib/kafka-errors.ts';

const ctx = { what: 'insert into predictions', url: 'http://ch:8123', database: 'hitstream' };
/** How ClickHouse 18.16 words an error (the client does not parse it into a ClickHouseError). */
const old = (code: number, text: string) =>
  new Error(`Code: ${code}, e.displayText() = DB::Exception: ${text}, e.what() = DB::Exception`);

const clickhouseCases: [string, unknown, string, boolean][] = [
  ['no database (18.16)', old(81, "Database hitstream doesn't exist"), 'schema_missing', false],
  [
    'no table (current)',
    new ClickHouseError({ message: 'Table x does not exist', code: '60', type: 'UNKNOWN_TABLE' }),
    'schema_missing',
    false,
  ],
  ['wrong password', old(193, 'Wrong password for user default'), 'storage_auth', false],
  [
    'lone surrogate in a row',
    old(25, 'Cannot parse escape sequence: missing second part of surrogate pair'),
    'storage_rejected',
    false,
  ],
  ['unparsable value', old(27, 'Cannot parse input: expected " before: abc'), 'storage_rejected', false],
  ['syntax error (a bug)', old(62, 'Syntax error'), 'storage_error', false],
  ['too many parts', old(252, 'Too many parts (300)'), 'storage_unavailable', true],
  [
    'memory limit',
    new ClickHouseError({ message: 'Memory limit exceeded', code: '241', type: 'MEMORY_LIMIT_EXCEEDED' }),
    'storage_unavailable',
    true,
  ],
  [
    'connection refused',
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }),
    'storage_unavailable',
    true,
  ],
  ['client timeout', new Error('Timeout error.'), 'storage_unavailable', true],
];
for (const [name, err, code, retriable] of clickhouseCases)
  test(`ClickHouse: ${name} → ${code}${retriable ? ' (retriable)' : ''}`, () => {
    const e = classifyClickhouseError(err, ctx);
    assert.equal(e.code, code);
    assert.equal(e.retriable, retriable);
    assert.ok(!describeError(e).includes('e.what()'), 'one clean line');
  });

test('the fatal ClickHouse errors say what to do', () => {
  assert.match(
    classifyClickhouseError(old(81, 'x'), ctx).message,
    /database hitstream does not exist on http:\/\/ch:8123: run `npx hitstream migrate`/,
  );
  assert.match(
    classifyClickhouseError(old(516, 'x'), ctx).message,
    /CLICKHOUSE_USER and CLICKHOUSE_PASSWORD/,
  );
});

/** A produce response whose partition 0 answered the broker's error `code` (its errors gathered). */
const produceResponse = (code: number) =>
  new ResponseError(0, 9, { '/topics/0/partitions/0': [code, null] }, {});
const kafkaCases: [string, unknown, string, boolean][] = [
  ['broker down', new NetworkError('Connection failed'), 'kafka_unavailable', true],
  ['request timed out', new TimeoutError('Request timed out'), 'kafka_unavailable', true],
  ['leader moved, in a produce response', produceResponse(6), 'kafka_unavailable', true],
  ['too few in-sync replicas, in a produce response', produceResponse(19), 'kafka_not_enough_replicas', true],
  ['written but not replicated', produceResponse(20), 'kafka_not_enough_replicas', true],
  ['record too large', new ProtocolError('MESSAGE_TOO_LARGE'), 'kafka_refused', false],
  ['ACL', new ProtocolError('TOPIC_AUTHORIZATION_FAILED'), 'kafka_refused', false],
  ['topic not there, in a produce response', produceResponse(3), 'kafka_refused', false],
  // The client's metadata says so in an error of its own, with no broker code.
  [
    'topic not there, from metadata',
    new UserError('Unknown topic hitstream.tracks.'),
    'kafka_refused',
    false,
  ],
  ['wrong password', new AuthenticationError('SASL authentication failed'), 'kafka_refused', false],
];
test('Kafka: too few in-sync replicas names the cause, the fix and the setting', () => {
  const e = classifyKafkaError(produceResponse(19), 'publish track events');
  assert.match(e.message, /^publish track events: not enough in-sync replicas \(NOT_ENOUGH_REPLICAS\)/);
  assert.match(e.message, /restart the stopped brokers/);
  assert.equal(e.field, 'HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS');
});

for (const [name, err, code, retriable] of kafkaCases)
  test(`Kafka: ${name} → ${code}${retriable ? ' (retriable)' : ''}`, () => {
    const e = classifyKafkaError(err, 'publish predictions');
    assert.equal(e.code, code);
    assert.equal(e.retriable, retriable);
  });
