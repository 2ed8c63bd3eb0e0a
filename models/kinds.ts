/** The serving half of the four model kinds, by name: what a model set loads each model with. */
import type { ModelName } from '../schemas/prediction.ts';
import type { ModelLoader } from './model.ts';
import { mlpLoader } from './mlp/index.ts';
import { randomForestLoader } from './random-forest/index.ts';
import { tabnetLoader } from './tabnet/index.ts';
import { xgboostLoader } from './xgboost/index.ts';

export const LOADERS: Record<ModelName, ModelLoader> = {
  rf: randomForestLoader,
  xgb: xgboostLoader,
  mlp: mlpLoader,
  tabnet: tabnetLoader,
};
