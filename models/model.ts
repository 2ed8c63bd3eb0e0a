/** What every one of the four models provides as served, so the model set, the registry and the CLI treat them alike. */
import type { ModelName } from '../schemas/prediction.ts';
import type { ShapTrees } from './explain/tree-shap.ts';
import type { Preprocessing } from './features.ts';
import type { DecodedTrees } from './tree-decoding.ts';

export interface Scorer {
  readonly name: ModelName;
  /** Raw features, row-major n × f → predicted popularity per row (not yet clipped). */
  predict(X: Float32Array): Promise<Float32Array>;
  /**
   * Tree models: their trees for exact Tree SHAP, read on first use (a worker that does not explain
   * never holds them). Models without it are explained by sampling (models/explain/).
   */
  shapTrees?(): Promise<ShapTrees>;
}

/** How a saved model is loaded for scoring (kinds ignore what does not concern them). */
export interface LoadOptions {
  /** Random Forest: typed-array walk over the trees (default), or ml-random-forest's predictor. */
  rfPredictor?: 'compact' | 'ml-random-forest';
  /** TabNet: small batches in plain JavaScript and big ones in TensorFlow.js (default), or all in TensorFlow.js. */
  tabnetPass?: 'by-batch-size' | 'tensorflow';
  /** The tree models already decoded (by a worker thread): their loaders skip reading their files. */
  decoded?: DecodedTrees;
}

/** The serving half of a model kind: reads its files back into a scorer. Its training half is in training/. */
export interface ModelLoader {
  name: ModelName;
  load(dir: string, preprocessing: Preprocessing, options?: LoadOptions): Promise<Scorer>;
}
