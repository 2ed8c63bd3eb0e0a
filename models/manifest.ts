import type { ModelName } from '../schemas/prediction.ts';
import type { BinnedReference } from './drift-reference.ts';
import type { Preprocessing } from './features.ts';
import type { Metrics } from './metrics.ts';

/** models/artifacts/<name>/manifest.json: everything needed to load, explain and monitor a model. */
export interface ModelManifest {
  name: ModelName;
  version: string;
  created: string;
  files: string[];
  features: string[];
  preprocessing: Preprocessing;
  training: {
    dataSha256: string;
    dataRows: number;
    trainRows: number;
    testRows: number;
    /** `all-rows`: refitted on train and test rows after evaluation; `split`: the evaluated fit. */
    fit?: 'split' | 'all-rows';
    protocol: 'grouped';
    seed: number;
    seconds: number;
  };
  hyperparameters: Record<string, unknown>;
  metrics: { grouped: Metrics; seed?: Metrics };
  importance: number[] | undefined;
  drift: { features: Record<string, BinnedReference>; score: BinnedReference };
  sizeBytes: number;
}
