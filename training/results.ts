/** What a training run reports: the types train.ts, report.ts and the trainers share, and a run's version id. */
import type { EnsembleWeights } from '../models/ensemble.ts';
import type { Metrics } from '../models/metrics.ts';
import type { ModelName } from '../schemas/prediction.ts';

/**
 * `seed` reproduces the original project (random row split); `grouped` (every row of a track on
 * one side) is the deployed setting, whose fits are shipped.
 */
export type Protocol = 'seed' | 'grouped';

export interface ModelResult {
  metrics: Metrics;
  trainSeconds: number;
  importance: number[] | undefined;
  usPerRow: { batch1: number; batch256: number };
  sizeBytes?: number;
}
export interface EnsembleResult {
  weights: EnsembleWeights;
  /** Fitted on these rows: the validation slice by track, which none of the models learnt from. */
  validationRows: number;
  validationRmse: number;
  /** On the test part, from the split fits' scores. */
  metrics: Metrics;
}
export interface TrainReport {
  data: {
    path: string;
    sha256: string;
    rows: number;
    usedRows: number;
    droppedRows: number;
    /** Older copies of a (track_id, track_genre) that a later row replaced. */
    duplicateRows?: number;
  };
  seed: number;
  created: string;
  protocols: Partial<
    Record<
      Protocol,
      {
        features: Partial<Record<ModelName, string[]>>;
        trainRows: number;
        testRows: number;
        /** What the shipped artifacts were fitted on (grouped only): the split's train rows, or all. */
        shipped?: { fit: 'split' | 'all-rows'; rows: number };
        /** Grouped only, when every model was trained: the weighted score of the four. */
        ensemble?: EnsembleResult;
      } & Partial<Record<ModelName, ModelResult>>
    >
  >;
}

/** One protocol's part of the report. */
export type Section = NonNullable<TrainReport['protocols'][Protocol]>;

/**
 * A version id: when the run started (UTC, to the second: two runs on one day and data are two
 * versions), the data's hash and the seed, e.g. `20261202-180721-932f111e-s42`.
 */
export const versionId = (report: TrainReport, seed: number): string =>
  `${report.created.slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}-${report.data.sha256.slice(0, 8)}-s${seed}`;
