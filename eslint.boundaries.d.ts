// Types of eslint.boundaries.js, for the test that checks the boundaries.
import type { Linter } from 'eslint';

/** Per top-level folder, the other folders it may import. */
export declare const ROOMS: Record<string, readonly string[]>;
export declare function boundaryRules(): Linter.Config[];
