/** What every trainer takes and gives back, so train.ts, the report and the four kinds agree. */
import type { Preprocessing } from '../models/features.ts';
import type { Scorer } from '../models/model.ts';
import type { ModelName } from '../schemas/prediction.ts';

export interface TrainData {
  /** Raw features, row-major n × f (see models/features.ts). */
  X: Float32Array;
  y: Float32Array;
  f: number;
  preprocessing: Preprocessing;
  seed: number;
  /** Each row's track id: a validation slice taken from these rows is cut by it (no track on both sides). */
  groups?: readonly string[];
}

export interface Validation {
  rows: readonly number[];
  predictions: Float32Array;
}

/** Called during training; `fraction` in 0..1 drives the progress bar, `detail` says trees/epochs/loss. */
export type Progress = (fraction: number, detail: string) => void;

export interface Trained {
  scorer: Scorer;
  /** Per feature, summing to 1: split gain for trees, mean attention mask for TabNet, permutation for the MLP. */
  importance: number[] | undefined;
  hyperparameters: Record<string, unknown>;
  /** Writes the model's files into `dir`; returns their names. */
  save(dir: string): Promise<string[]>;
  /** The trainer a refit on more rows uses: these settings as chosen (e.g. the number of trees). */
  refitKind?: ModelTrainer;
  /**
   * Scores for rows of the training data this fit did not learn from (the validation slice it
   * stopped on), by their index in TrainData: what the ensemble weights are fitted on.
   */
  validation?: Validation;
}

/** The training half of a model kind; what it saves, its serving half (models/) loads. */
export interface ModelTrainer {
  name: ModelName;
  train(data: TrainData, progress: Progress): Promise<Trained>;
}
