/** The contracts every part of hitstream shares. */
export * from './track-features.ts';
export * from './prediction.ts';
export * from './dead-letter.ts';
export * from './validate.ts';
export * from './label.ts';

import { DeadLetter } from './dead-letter.ts';
import { Prediction, ScoredEvent } from './prediction.ts';
import { FeatureInput, TrackFeatures } from './track-features.ts';

/** Schemas by name, for the examples and for tools that pick a schema at run time. */
export const SCHEMAS = { TrackFeatures, FeatureInput, Prediction, ScoredEvent, DeadLetter } as const;
