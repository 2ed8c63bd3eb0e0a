// ml-xgboost ships no types; this covers what hitstream uses.
declare module 'ml-xgboost' {
  interface XGBoostModelJson {
    name: 'ml-xgboost';
    model: number[];
    options: Record<string, unknown>;
  }
  class XGBoost {
    constructor(options: Record<string, unknown>);
    train(X: number[][], y: number[]): void;
    predict(X: number[][]): number[];
    toJSON(): XGBoostModelJson;
    free(): void;
    static load(model: XGBoostModelJson): XGBoost;
  }
  const ready: Promise<typeof XGBoost>;
  export default ready;
}
