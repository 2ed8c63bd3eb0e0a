/**
 * A consumer-group member on @platformatic/kafka that hands over what it fetched as per-partition
 * batches, and commits only what it is told to (issue #29: the client hitstream moved to).
 *
 * Why not the client's stream as it is: it hands messages over one at a time. The worker scores
 * every partition's messages of a fetch together and commits each batch only after its rows are
 * stored, so messages are gathered per turn of the event loop (one fetch response is pushed in
 * one turn) and handed over as batches, one hand-over at a time; while one runs, the stream keeps
 * fetching into the buffer, up to `maxBufferedMessages`.
 *
 * Failures: the client retries a failed request a few times and then ends its stream, or fails a
 * rejoin with an `error` event. Either way this member restarts: a new stream rejoins the group
 * and reads on from the committed offsets (the buffered, uncommitted messages are dropped: they
 * are read again), after 1, 2, 4… up to 30 s, until `stopped()`. An error no retry fixes
 * (authentication, ACLs) is handed to `onFatal` instead. This is what kafkajs' consumer did on a
 * crash with `restartOnFailure`.
 */
import { Admin, Consumer, type Message } from '@platformatic/kafka';
import type { Config } from './config.ts';
import { HitstreamError } from './errors.ts';
import { classifyKafkaError } from './kafka-errors.ts';
import { platformaticConnection } from './kafka.ts';
import type { Logger } from './logger.ts';

export interface ConsumedMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  /** As a decimal string, the way offsets are stored and committed. */
  offset: string;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to read (the last stored one + 1). */
  offset: string;
}

export interface GroupConsumerOptions {
  clientId: string;
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts: the oldest message, or only new ones. */
  fromBeginning: boolean;
  /**
   * Every partition batch of one fetch, together; resolves when they may be taken as handled.
   * A rejection is fatal (`onFatal`): those messages are not committed, a restarted process reads them.
   */
  onBatches: (batches: ConsumedBatch[]) => Promise<void>;
  /** An error no restart fixes; the member stops fetching. */
  onFatal: (err: HitstreamError) => void;
  /** True while shutting down: failures then end it quietly, no restart. */
  stopped: () => boolean;
  log: Logger;
  /** Group joins and rebalances at debug level (a helper group, not a service's partitions). */
  quiet?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** The broker answers a fetch at `minBytes`, or after `maxWaitMs`. */
  minBytes?: number;
  maxWaitMs?: number;
  maxBytesPerPartition?: number;
  /** Fetched, not yet handed over: above this the stream stops fetching until it drains. */
  maxBufferedMessages?: number;
}

export interface GroupConsumer {
  /** Joins the group and starts handing batches over. */
  start(): Promise<void>;
  /** No more hand-overs or fetches (the group membership stays, so commits still count). */
  pause(): void;
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** True while a member of the group with its partitions assigned. */
  consuming(): boolean;
  /** Per partition, the messages after the last one handed over (its log end minus that). */
  lag(): Promise<Map<number, number>>;
  /** Per topic, each partition's log end offset (the offset the next message will get). */
  endOffsets(): Promise<Map<string, bigint[]>>;
  /** Resolves when no hand-over is running (after `pause`: the last one finished). */
  idle(): Promise<void>;
  /** Leaves the group and disconnects. */
  close(): Promise<void>;
}

type Stream = Awaited<ReturnType<Consumer<Buffer, Buffer, Buffer, Buffer>['consume']>>;
type Fetched = Message<Buffer, Buffer, Buffer, Buffer>;

const MAX_RESTART_DELAY_MS = 30_000;

export function createGroupConsumer(cfg: Config, opts: GroupConsumerOptions): GroupConsumer {
  const { log } = opts;
  const maxBuffered = opts.maxBufferedMessages ?? 20_000;
  let stream: Stream | undefined;
  let buffered: Fetched[] = [];
  let handing = false;
  let paused = false;
  let joined = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Per topic and partition, the offset after the last message handed over (for the lag). */
  const nextOffsets = new Map<string, bigint>();
  /**
   * Per topic and partition, the offset after the last message taken in. After each rejoin the
   * client reads a partition it keeps again from its committed offset, which lags what was taken
   * by up to a write interval: those copies are dropped, the first ones are stored and committed.
   */
  const takenUpTo = new Map<string, bigint>();

  function newClient() {
    const c = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...platformaticConnection(cfg, opts.clientId),
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
      autocommit: false,
    });
    c.on('consumer:group:join', (e: { assignments?: { topic: string; partitions: number[] }[] }) => {
      joined = true;
      restarts = 0;
      log[opts.quiet ? 'debug' : 'info']({ assignment: e.assignments }, 'joined consumer group');
    });
    c.on('consumer:group:rebalance', () => log[opts.quiet ? 'debug' : 'info']('consumer group rebalancing'));
    // A failed rejoin: the client stops heart-beating until it is asked to consume again. (While
    // no stream is open, opening one is under way and fails or succeeds by itself.)
    c.on('error', (err: unknown) => {
      if (c === client && stream) restart(stream, err, 'the consumer group client failed');
    });
    return c;
  }
  let client = newClient();

  /**
   * Opens a stream on the client (joining the group first); a client that failed a few times in a
   * row is replaced. The same client is kept otherwise: it rejoins under its member id, so the
   * group need not wait out the session timeout of a member that vanished (a new client made the
   * leader-kill test take 57 s instead of 16).
   */
  const openStream = async (): Promise<void> => {
    if (restarts > 3) {
      void client.close(true).catch(() => undefined);
      client = newClient();
    }
    const s = await client.consume({
      topics: opts.topics,
      mode: 'committed',
      fallbackMode: opts.fromBeginning ? 'earliest' : 'latest',
      autocommit: false,
      minBytes: opts.minBytes ?? 1,
      maxWaitTime: opts.maxWaitMs ?? 5_000,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 2 * 1024 * 1024,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
    });
    if (closed) {
      void s.close().catch(() => undefined);
      return;
    }
    stream = s;
    s.on('data', (m: Fetched) => take(s, m));
    s.on('error', (err: unknown) => restart(s, err, 'the consumer stream failed'));
    if (paused) s.pause();
  };

  /** After a failure of the stream `from` (undefined: opening one failed): a new stream, later. */
  const restart = (from: Stream | undefined, err: unknown, what: string) => {
    if (from !== stream || restartTimer || closed) return; // late news of an old stream, or restarting
    joined = false;
    stream = undefined;
    buffered = [];
    takenUpTo.clear(); // the new stream reads on from the committed offsets, all of it
    void from?.close().catch(() => undefined);
    const failed = classifyKafkaError(err, what);
    if (opts.stopped()) {
      log.info({ err }, `${what} while stopping; not restarted`);
      return;
    }
    if (!failed.retriable) {
      opts.onFatal(failed);
      return;
    }
    const delay = Math.min(MAX_RESTART_DELAY_MS, 1_000 * 2 ** restarts++);
    log.warn(
      { err },
      `${failed.message}; the consumer restarts in ${delay / 1000} s (unready until it rejoins; uncommitted events are read again)`,
    );
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      openStream().catch((e: unknown) => restart(undefined, e, 'joining the consumer group'));
    }, delay);
  };

  const take = (from: Stream, m: Fetched) => {
    if (from !== stream || !owned(m.topic, m.partition)) return;
    const key = `${m.topic}:${m.partition}`;
    const upTo = takenUpTo.get(key);
    if (upTo !== undefined && m.offset < upTo) return;
    takenUpTo.set(key, m.offset + 1n);
    buffered.push(m);
    if (buffered.length >= maxBuffered) from.pause();
    if (!handing) {
      handing = true;
      // After this turn: the rest of the fetch response is pushed in it.
      handedOver = new Promise((resolve) => setImmediate(() => void handOver().then(resolve)));
    }
  };

  /**
   * Whether the partition is this member's now. A fetch sent before a rebalance can answer after
   * it with partitions that moved to another member, which reads them too (seen here: the first
   * 232–256 messages of two partitions stored by both workers). Dropped, they are not lost: their
   * owner reads them from the committed offset.
   */
  let ownedFrom: unknown;
  let ownedKeys = new Set<string>();
  const owned = (topic: string, partition: number) => {
    const now = client.assignments;
    if (now !== ownedFrom) {
      ownedFrom = now;
      ownedKeys = new Set((now ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}:${p}`)));
    }
    return ownedKeys.has(`${topic}:${partition}`);
  };

  let handedOver: Promise<void> = Promise.resolve();
  const handOver = async (): Promise<void> => {
    try {
      while (buffered.length && !paused) {
        const taken = buffered;
        buffered = [];
        const batches = byPartition(taken);
        for (const b of batches)
          nextOffsets.set(`${b.topic}:${b.partition}`, BigInt(b.messages.at(-1)!.offset) + 1n);
        await opts.onBatches(batches);
        if (!paused && stream?.isPaused() && buffered.length < maxBuffered) stream.resume();
      }
    } catch (err) {
      paused = true;
      stream?.pause();
      opts.onFatal(
        err instanceof HitstreamError
          ? err
          : new HitstreamError(
              'consumer_failed',
              `handling a batch: ${err instanceof Error ? err.message : String(err)}`,
              { cause: err },
            ),
      );
    } finally {
      handing = false;
    }
  };

  return {
    async start() {
      // At start a failure is the caller's to report (Kafka down, credentials refused).
      await openStream().catch((err: unknown) => {
        throw classifyKafkaError(err, 'joining the consumer group');
      });
    },
    pause() {
      paused = true;
      stream?.pause();
    },
    async commit(offsets) {
      await client.commit({
        offsets: offsets.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      });
    },
    consuming: () => joined && stream !== undefined,
    async lag() {
      const lag = new Map<number, number>();
      const ends = await client.listOffsets({ topics: opts.topics });
      for (const [topic, partitions] of ends)
        partitions.forEach((end, partition) => {
          const next = nextOffsets.get(`${topic}:${partition}`);
          if (next !== undefined) lag.set(partition, Math.max(0, Number(end - next)));
        });
      return lag;
    },
    endOffsets: () => client.listOffsets({ topics: opts.topics }),
    async idle() {
      while (handing) await handedOver;
    },
    async close() {
      closed = true;
      clearTimeout(restartTimer);
      joined = false;
      await stream?.close().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/** A turn's messages as batches per topic and partition, in offset order. */
function byPartition(messages: readonly Fetched[]): ConsumedBatch[] {
  const batches = new Map<string, ConsumedBatch>();
  for (const m of messages) {
    const key = `${m.topic}:${m.partition}`;
    let b = batches.get(key);
    if (!b) batches.set(key, (b = { topic: m.topic, partition: m.partition, messages: [] }));
    const headers: Record<string, Buffer> = {};
    for (const [k, v] of m.headers) headers[k.toString()] = v;
    b.messages.push({ key: m.key ?? null, value: m.value ?? null, headers, offset: String(m.offset) });
  }
  return [...batches.values()];
}

/**
 * Removes a consumer group that was only ever one process's (the feed's, a role watcher's), so
 * such groups do not pile up on the broker. Best effort: a group left behind expires on its own.
 */
export async function deleteGroup(cfg: Config, groupId: string): Promise<void> {
  const admin = new Admin(platformaticConnection(cfg, 'hitstream-admin'));
  try {
    await admin.deleteGroups({ groups: [groupId] });
  } catch {
    // the broker's offsets.retention.minutes removes it later
  } finally {
    await admin.close().catch(() => undefined);
  }
}
