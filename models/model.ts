/** What every one of the four models provides, so training, the registry and the CLI treat them alike. */
import type { ModelName } from '../schemas/prediction.ts';
import type { Preprocessing } from './features.ts';

export interface TrainData {
  /** Raw features, row-major n × f (see features.ts). */
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

export interface Scorer {
  readonly name: ModelName;
  /** Raw features, row-major n × f → predicted popularity per row (not yet clipped). */
  predict(X: Float32Array): Promise<Float32Array>;
}

export interface Trained {
  scorer: Scorer;
  /** Per feature, summing to 1: split gain for trees, mean attention mask for TabNet, permutation for the MLP. */
  importance: number[] | undefined;
  hyperparameters: Record<string, unknown>;
  /** Writes the model's files into `dir`; returns their names. */
  save(dir: string): Promise<string[]>;
  /** The kind a refit on more rows uses: these settings as chosen (e.g. the number of trees). */
  refitKind?: ModelKind;
  /**
   * Scores for rows of the training data this fit did not learn from (the validation slice it
   * stopped on), by their index in TrainData: what the ensemble weights are fitted on.
   */
  validation?: Validation;
}

/** How a saved model is loaded for scoring (kinds ignore what does not concern them). */
export interface LoadOptions {
  /** Random Forest: typed-array walk over the trees (default), or ml-random-forest's predictor. */
  rfPredictor?: 'compact' | 'ml-random-forest';
}

export interface ModelKind {
  name: ModelName;
  train(data: TrainData, progress: Progress): Promise<Trained>;
  load(dir: string, preprocessing: Preprocessing, options?: LoadOptions): Promise<Scorer>;
}
