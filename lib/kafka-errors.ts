/**
 * Kafka failures as retriable or fatal, from @platformatic/kafka's error classes and the broker's
 * error type (`apiId`, the protocol's name), not the message text; the client gathers a
 * response's errors in an AggregateError's `errors`. Retriable: connections, timeouts, leader and
 * coordinator changes. Fatal: what no retry fixes: authentication and ACLs, a record the broker
 * will never take, a topic that is not there when we may not create it.
 */
import { HitstreamError } from './errors.ts';

/** Broker error types that stay true however often the request is sent again. */
const FATAL_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REQUIRED_ACKS',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_VERSION',
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

/** A write `acks: -1` refused (or could not confirm) because too few replicas are in sync. */
const NOT_ENOUGH_REPLICAS = new Set(['NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND']);

interface KafkaLike {
  name?: string;
  /** The broker's error type (`apiId`), or the one a client error stands for. */
  type?: string;
  /** @platformatic/kafka: `code` is its own, `apiId` the broker's. */
  apiId?: string;
  code?: unknown;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown;
  message?: unknown;
}

/**
 * The error, its causes and the errors it gathers (a response's errors), outermost first.
 * The client's metadata turns the broker's UNKNOWN_TOPIC_OR_PARTITION into an error of its own,
 * "Unknown topic NAME." with no type (its base client): typed here as what it stands for.
 */
function chain(err: unknown): KafkaLike[] {
  const out: KafkaLike[] = [];
  const pending: unknown[] = [err];
  while (pending.length && out.length < 16) {
    const e = pending.shift();
    if (!e || typeof e !== 'object') continue;
    const k: KafkaLike = e;
    // `message` is not enumerable on an Error: named, not spread.
    const unknownTopic = typeof k.message === 'string' && /^Unknown topic /.test(k.message);
    out.push({
      ...k,
      type: k.type ?? k.apiId ?? (unknownTopic ? 'UNKNOWN_TOPIC_OR_PARTITION' : undefined),
      message: k.message,
    });
    pending.push(k.cause);
    if (Array.isArray(k.errors)) pending.push(...(k.errors as unknown[]));
  }
  return out;
}

/** The broker error types (`apiId`) in `err` and its causes. */
export function brokerErrorTypes(err: unknown): string[] {
  return chain(err).flatMap((e) => (e.type ? [e.type] : []));
}

/**
 * The messages of `err`, its causes and the errors it gathers, each once: what a probe reports
 * (platformatic's "Cannot connect to any broker." says why only in the errors it gathers).
 */
export function errorTexts(err: unknown): string[] {
  const texts = chain(err).flatMap((e) =>
    typeof e.message === 'string' && e.message ? [e.message.replace(/\.$/, '')] : [],
  );
  return texts.length ? [...new Set(texts)] : [String(err)];
}

/** A Kafka client's `err` as a HitstreamError: `kafka_unavailable` (retriable) or `kafka_refused` (fatal). */
export function classifyKafkaError(err: unknown, what: string): HitstreamError {
  if (err instanceof HitstreamError) return err;
  const errors = chain(err);
  const fatalType = errors.find((e) => e.type && FATAL_TYPES.has(e.type))?.type;
  const authFailed = errors.some((e) => e.code === 'PLT_KFK_AUTHENTICATION');
  const text = err instanceof Error ? err.message : String(err);
  if (fatalType || authFailed) {
    const fix =
      fatalType === 'UNKNOWN_TOPIC_OR_PARTITION'
        ? 'create the topic, or let hitstream create it (its commands do at start)'
        : fatalType?.includes('TOO_LARGE')
          ? "raise the broker's message.max.bytes or send smaller records"
          : 'check the Kafka credentials and ACLs (KAFKA_BROKERS and the SASL settings)';
    return new HitstreamError(
      'kafka_refused',
      `${what}: Kafka refused it (${fatalType ?? 'SASL'}): ${text}: ${fix}`,
      {
        cause: err,
        explainsCause: true,
        field: 'KAFKA_BROKERS',
      },
    );
  }
  const replicas = errors.find((e) => e.type && NOT_ENOUGH_REPLICAS.has(e.type))?.type;
  if (replicas)
    return new HitstreamError(
      'kafka_not_enough_replicas',
      `${what}: not enough in-sync replicas (${replicas}): a partition has fewer live copies than its min.insync.replicas, so Kafka will not acknowledge the write; restart the stopped brokers (or lower HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS for new topics)`,
      { cause: err, explainsCause: true, retriable: true, field: 'HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS' },
    );
  return new HitstreamError('kafka_unavailable', `${what}: Kafka is unavailable: ${text}`, {
    cause: err,
    explainsCause: true,
    retriable: true,
  });
}
