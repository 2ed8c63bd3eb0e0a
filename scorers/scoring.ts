/**
 * The worker's score stage: the valid events of every partition batch in hand are scored
 * together (one call per model, live and shadow) and their predictions, with the dead letters,
 * published in one run of the publish stage, before each batch goes on to be stored and
 * committed on its own.
 */
import type { BatchPrediction } from '../models/model-set.ts';
import type { ServedSet, Serving } from '../registry/serving.ts';
import type { DeadLetter } from '../schemas/dead-letter.ts';
import { Coalescer } from './coalescer.ts';
import type { WorkerMetrics } from './metrics.ts';
import { feedMessages } from '../warehouse/feed-text.ts';
import type { Scored, ScoreVersions } from '../warehouse/rows.ts';
import type { PublishStage } from './publish.ts';
import type { ExplainStage } from './explain.ts';

/** Rows `start..end` of a batch prediction (views, no copies). */
export function slicePrediction(
  pred: BatchPrediction,
  start: number,
  end: number,
  total: number,
): BatchPrediction {
  const nFeatures = total ? pred.tabnetMasks.length / total : 0;
  return {
    names: pred.names,
    scores: Object.fromEntries(
      pred.names.map((m) => [m, pred.scores[m]!.subarray(start, end)]),
    ) as BatchPrediction['scores'],
    tabnetMasks: pred.tabnetMasks.subarray(start * nFeatures, end * nFeatures),
    inferenceUs: pred.inferenceUs,
  };
}

export interface ScoreRequest {
  valid: Scored[];
  dead: DeadLetter[];
}

export interface ScoreResult {
  pred: BatchPrediction;
  /** The live version's score versions: every row of this result names its version from these. */
  versions: ScoreVersions;
  /** The shadow version's scores of the same events, when one is set. */
  shadow?: { set: ServedSet; pred: BatchPrediction };
  scoredAt: Date;
  /** When the broker acknowledged the predictions. */
  publishedAt: number;
  /** The run this batch was scored in: events and milliseconds (for the debug log). */
  run: { events: number; batches: number; scoreMs: number; publishMs: number };
}

export function createScoringStage(deps: {
  serving: Serving;
  metrics: WorkerMetrics;
  publish: PublishStage;
  /** Explains a sample of the scored events, off this path (explain.ts). */
  explain?: ExplainStage;
}): (request: ScoreRequest) => Promise<ScoreResult> {
  const { serving, metrics } = deps;
  const coalescer = new Coalescer<ScoreRequest, ScoreResult>(async (requests) => {
    const valid = requests.flatMap((r) => r.valid);
    const dead = requests.flatMap((r) => r.dead);
    // Read once per run: a swap between two runs never splits one event's scores.
    const live = serving.live();
    const shadowSet = serving.shadow();
    const t0 = performance.now();
    const events = valid.map((s) => s.event);
    const pred = await live.models.predictBatch(events);
    const scoredAt = new Date();
    const tScored = performance.now();
    for (const m of pred.names) metrics.inferenceUs.observe({ model: m }, pred.inferenceUs[m]!);
    let shadow: ScoreResult['shadow'];
    if (shadowSet && valid.length) {
      const cpu = process.cpuUsage();
      shadow = { set: shadowSet, pred: await shadowSet.models.predictBatch(events) };
      const used = process.cpuUsage(cpu);
      metrics.shadowCpuSeconds.inc((used.user + used.system) / 1e6);
    }
    const versions = live.models.versions;

    const feed = feedMessages(
      valid,
      pred,
      { version: live.version, versions },
      scoredAt,
      shadow && { version: shadow.set.version, pred: shadow.pred },
    );
    await deps.publish.run(feed, dead);
    const publishedAt = Date.now();
    for (const { event } of valid)
      metrics.latencyMs.observe(Math.max(0, publishedAt - Date.parse(event.event_time)));
    deps.explain?.offer(valid, live, shadowSet);
    const run = {
      events: valid.length + dead.length,
      batches: requests.length,
      scoreMs: Math.round((tScored - t0) * 10) / 10,
      publishMs: Math.round((performance.now() - tScored) * 10) / 10,
    };
    let start = 0;
    return requests.map((r) => {
      const end = start + r.valid.length;
      const own = slicePrediction(pred, start, end, valid.length);
      const ownShadow = shadow && {
        set: shadow.set,
        pred: slicePrediction(shadow.pred, start, end, valid.length),
      };
      start = end;
      return {
        pred: own,
        versions,
        ...(ownShadow ? { shadow: ownShadow } : {}),
        scoredAt,
        publishedAt,
        run,
      };
    });
  });
  return (request) => coalescer.submit(request);
}
