/**
 * The worker's explain stage: a sample of the scored events (HITSTREAM_EXPLAIN_SAMPLE, chosen by
 * event id, so a re-delivered event is chosen again) is explained off the scoring path and stored
 * in `explanations`, by the version that scored it (live, and shadow when one is set).
 *
 * An explanation of the shipped set costs ~0.15 s of CPU (the forest's 1.5 M nodes), hundreds of
 * times an event's scoring, so the stage keeps to a budget: it explains only while the time it
 * spent in the last 30 s stays under HITSTREAM_EXPLAIN_BUDGET of the CPU the worker spent on
 * everything else meanwhile (a share of its wall time was measured +47% CPU per event at 5%: a
 * worker at 1,000 events/s is busy a sixth of the time). Sampled events beyond it wait, and the
 * oldest are skipped and counted. A worker that has scored nothing for 5 s is idle: it
 * explains what waits without counting (idle CPU costs the scoring nothing; a burst's sampled
 * events are explained once it has passed). Best effort by design: nothing here delays a batch's
 * commit, and what is queued when the worker stops is not explained.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../lib/logger.ts';
import { describeError, HitstreamError } from '../lib/errors.ts';
import type { ServedSet } from '../registry/serving.ts';
import type { Scored } from '../warehouse/rows.ts';
import type { WorkerMetrics } from './metrics.ts';

/** Sampled events waiting at most; beyond it the oldest are skipped (the budget explains fewer). */
const QUEUE = 1000;
const WINDOW_MS = 30_000;
const FLUSH_MS = 2_000;
/**
 * No events scored for this long: the worker is idle, and explaining takes no budget. Longer than
 * a paced producer's gaps (a replay at a fixed rate sends a batch a second).
 */
const IDLE_MS = 5_000;
/** The longest pause between two slices of an explanation. */
const MAX_PAUSE_MS = 1_000;

/** FNV-1a of the event id as a share in [0, 1): the same events are sampled on every worker. */
export function sampledShare(eventId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < eventId.length; i++) h = Math.imul(h ^ eventId.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

export interface ExplainStage {
  /** Offers a run's scored events; the sampled ones are queued for explaining. */
  offer(events: readonly Scored[], live: ServedSet, shadow?: ServedSet): void;
  /** Stops explaining and writes what is explained. */
  stop(): Promise<void>;
}

export function createExplainStage(deps: {
  sample: number;
  budget: number;
  clickhouse: ClickHouseClient;
  metrics: WorkerMetrics;
  log: Logger;
}): ExplainStage {
  const { metrics, log } = deps;
  const queue: { scored: Scored; set: ServedSet }[] = [];
  const spent: { at: number; ms: number }[] = [];
  /** The process's CPU time (ms) now and then, to set the explaining against the rest. */
  const cpu: { at: number; ms: number }[] = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const rows: Record<string, unknown>[] = [];
  let running = false;
  let stopped = false;
  let lastScored = 0;
  /**
   * Versions trained before explanations: said once, then their sampled events are counted as
   * `unavailable` rather than each failing with the same warning (a registry's older live version).
   */
  const unexplainable = new Set<string>();

  /** Explaining's time in the window over the CPU the process spent on everything else in it. */
  const sampleCpu = (now: number) => {
    cpu.push({ at: now, ms: cpuNow() });
    while (cpu.length > 2 && cpu[1]!.at < now - WINDOW_MS) cpu.shift();
  };
  const spentShare = () => {
    const now = performance.now();
    sampleCpu(now);
    while (spent.length && spent[0]!.at < now - WINDOW_MS) spent.shift();
    const explaining = spent.reduce((s, x) => s + x.ms, 0);
    const rest = cpu.at(-1)!.ms - cpu[0]!.ms - explaining;
    return rest > 0 ? explaining / rest : explaining > 0 ? Infinity : 0;
  };

  /**
   * Between two slices of an explanation (~2 ms of work each): a pause that keeps explaining to
   * the budget's share of the time, so its CPU comes in small sips rather than one ~130 ms burst.
   * The window check in drain() decides when an explanation may start; this spreads it. A burst
   * competed with the other processes for the two cores: 1% sampled raised the workers' p99 event
   * → prediction latency at 1,000 events/s from 20 to 72 ms (bench pipeline, same run), even with
   * the event loop yielded every 2 ms.
   */
  let sliceStart = 0;
  /** The explanation in hand's own time: its slices, not the pauses and scoring between them. */
  let sliced = 0;
  const pace = async () => {
    const worked = performance.now() - sliceStart;
    sliced += worked;
    const idle = performance.now() - lastScored > IDLE_MS;
    const pause = idle ? 0 : Math.min(MAX_PAUSE_MS, worked / Math.min(1, deps.budget) - worked);
    await new Promise<void>((r) => (pause >= 1 ? setTimeout(r, pause) : setImmediate(r)));
    sliceStart = performance.now();
  };

  async function explainOne({ scored, set }: { scored: Scored; set: ServedSet }) {
    sliceStart = performance.now();
    sliced = 0;
    const { explanations, prediction } = await set.models.explain([scored.event], pace);
    const ms = sliced + performance.now() - sliceStart;
    spent.push({ at: performance.now(), ms });
    metrics.explainSeconds.inc(ms / 1000);
    const e = scored.event;
    const explainedAt = Math.floor(Date.now() / 1000);
    for (const name of prediction.names) {
      const x = explanations[0]![name]!;
      rows.push({
        event_id: scored.eventId,
        track_id: e.track_id,
        track_genre: e.track_genre ?? '',
        model: name,
        model_version: set.models.versions[name],
        base: x.base,
        output: x.output,
        features: set.models.features,
        contributions: x.contributions,
        event_time: Math.floor(Date.parse(e.event_time) / 1000),
        explained_at: explainedAt,
      });
    }
    metrics.explanations.inc({ outcome: 'explained' });
  }

  async function drain() {
    if (running) return;
    running = true;
    try {
      while (queue.length && !stopped) {
        // Busy and over budget: wait for the window to move on rather than take more of its CPU.
        const idle = performance.now() - lastScored > IDLE_MS;
        if (!idle && spentShare() > deps.budget) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const next = queue.shift()!;
        if (unexplainable.has(next.set.version)) {
          metrics.explanations.inc({ outcome: 'unavailable' });
          continue;
        }
        await explainOne(next).catch((err: unknown) => {
          if (err instanceof HitstreamError && err.code === 'explain_unavailable') {
            unexplainable.add(next.set.version);
            metrics.explanations.inc({ outcome: 'unavailable' });
            log.warn(
              { version: next.set.version, err: describeError(err) },
              'sampled events scored by this version are not explained',
            );
            return;
          }
          metrics.explanations.inc({ outcome: 'failed' });
          log.warn({ err: describeError(err) }, 'an event could not be explained');
        });
      }
    } finally {
      running = false;
    }
  }

  async function flush() {
    if (!rows.length) return;
    const values = rows.splice(0);
    await deps.clickhouse
      .insert({ table: 'explanations', format: 'JSONEachRow', values })
      .catch((err: unknown) => {
        metrics.explanations.inc({ outcome: 'not_stored' }, values.length);
        log.warn({ err: describeError(err), rows: values.length }, 'explanations not stored (best effort)');
      });
  }
  const timer = setInterval(() => void flush(), FLUSH_MS);
  timer.unref();

  return {
    offer(events, live, shadow) {
      lastScored = performance.now();
      if (deps.sample <= 0 || stopped) return;
      if (!cpu.length || lastScored - cpu.at(-1)!.at > 1000) sampleCpu(lastScored);
      for (const scored of events) {
        if (sampledShare(scored.eventId) >= deps.sample) continue;
        for (const set of shadow ? [live, shadow] : [live]) {
          if (unexplainable.has(set.version)) {
            metrics.explanations.inc({ outcome: 'unavailable' });
            continue;
          }
          if (queue.length >= QUEUE) {
            queue.shift();
            metrics.explanations.inc({ outcome: 'skipped' });
          }
          queue.push({ scored, set });
        }
      }
      void drain();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (running) await new Promise((r) => setTimeout(r, 20));
      await flush();
    },
  };
}
