/** `withRetry`: what is retried, what is thrown at once, when it gives up, and what it says. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HitstreamError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { withRetry } from '../../lib/retry.ts';

function capturingLog() {
  const lines: string[] = [];
  const log = createLogger('test', 'info');
  for (const level of ['info', 'warn'] as const)
    log[level] = ((_obj: unknown, msg: string) => void lines.push(`${level}: ${msg}`)) as never;
  return { log, lines };
}
const outage = () =>
  new HitstreamError('kafka_unavailable', 'send: Kafka is unavailable', { retriable: true });

test('retries a retriable failure, says why and what happens meanwhile, then says it recovered', async () => {
  const { log, lines } = capturingLog();
  let calls = 0;
  const result = await withRetry(
    'send',
    () => (++calls < 3 ? Promise.reject(new Error('down')) : Promise.resolve('ok')),
    { log, meanwhile: 'nothing is lost', maxDelayMs: 10 },
    outage,
  );
  assert.equal(result, 'ok');
  assert.equal(calls, 3);
  assert.deepEqual(lines, [
    'warn: send: Kafka is unavailable; retrying (nothing is lost)',
    'info: send: recovered',
  ]);
});

test('an error no retry fixes is thrown at once', async () => {
  const { log } = capturingLog();
  let calls = 0;
  const refused = new HitstreamError('kafka_refused', 'send: refused');
  await assert.rejects(
    withRetry(
      'send',
      () => (calls++, Promise.reject(new Error('x'))),
      { log },
      () => refused,
    ),
    refused,
  );
  assert.equal(calls, 1);
});

test('gives up after giveUpAfterMs with the classified error', async () => {
  const { log } = capturingLog();
  let calls = 0;
  const t0 = Date.now();
  await assert.rejects(
    withRetry(
      'send',
      () => (calls++, Promise.reject(new Error('x'))),
      { log, giveUpAfterMs: 500, maxDelayMs: 100 },
      outage,
    ),
    /Kafka is unavailable/,
  );
  assert.ok(calls > 2, `${calls} attempts`);
  assert.ok(Date.now() - t0 >= 500);
});

test('a new reason is said at once, not at the next interval', async () => {
  const { log, lines } = capturingLog();
  const reasons = ['kafka_unavailable', 'kafka_unavailable', 'kafka_not_enough_replicas'];
  let calls = 0;
  await withRetry(
    'send',
    () => (calls++ < reasons.length ? Promise.reject(new Error(reasons[calls - 1])) : Promise.resolve()),
    { log, maxDelayMs: 10 },
    (err) =>
      new HitstreamError((err as Error).message, `send: ${(err as Error).message}`, { retriable: true }),
  );
  assert.deepEqual(lines, [
    'warn: send: kafka_unavailable; retrying',
    'warn: send: kafka_not_enough_replicas; retrying',
    'info: send: recovered',
  ]);
});
