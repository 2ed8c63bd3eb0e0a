/** What `train` is asked: the data, the models, the protocols and where the artifacts go. */
import type { ModelName } from '../schemas/prediction.ts';
import type { Protocol } from './results.ts';
import type { TrainingSource } from './source.ts';

export interface TrainOptions {
  /** A CSV path (the same as `source: { kind: 'csv', path }`). */
  data?: string;
  source?: TrainingSource;
  /** Fewer usable rows than this stops the run, saying how many it found. */
  minRows?: number;
  /** Refit the shipped (grouped) artifacts on every row after evaluation; true by default. */
  refit?: boolean;
  models: ModelName[];
  seed: number;
  protocols: Protocol[];
  outDir?: string;
  /**
   * 2 runs the seed protocol in a child process while this one trains the grouped protocol: every
   * trainer is single-threaded (wasm, JS), so on two cores the run takes the longer protocol's time.
   */
  jobs?: number;
  log: (line: string) => void;
}
