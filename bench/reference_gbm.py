#!/usr/bin/env python3
"""
A yardstick for models/REPORT.md: Python LightGBM (and XGBoost) on exactly the rows and the
grouped split that `hitstream train` uses, so their RMSE sits beside ours on equal terms.

  pip install lightgbm xgboost pandas
  python3 bench/reference_gbm.py --data ../shared/data/spotify_tracks.csv [--seed 42]

Rows: complete ones, one per (track_id, track_genre) with the last in the file winning
(training/rows.ts). Split: every row of a track on one side, test when the first four
bytes of sha1("<seed>:<track_id>") / 2^32 < 0.2 (training/split.ts). CI does not run this.
"""
import argparse
import hashlib
import json
import sys
import time

import numpy as np
import pandas as pd

FEATURES = [
    "duration_ms", "explicit", "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
]


def training_rows(path):
    df = pd.read_csv(path, index_col=0)
    df = df.dropna(subset=["artists", "album_name", "track_name", "popularity"])
    df = df.drop_duplicates(subset=["track_id", "track_genre"], keep="last")
    df["explicit"] = df["explicit"].astype(str).str.lower().eq("true").astype(int)
    return df.sort_values(["track_id", "track_genre"]).reset_index(drop=True)


def is_test(track_id, seed, fraction=0.2):
    h = hashlib.sha1(f"{seed}:{track_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 4294967296 < fraction


def artist_columns(df, train_mask, smoothing=5, folds=5):
    """models/features.ts's artist columns: the first artist's smoothed mean popularity and
    log1p(rows); training rows out of fold (folds by sha1("artist-fold:<track_id>") mod 5)."""
    first = df["artists"].str.split(";").str[0].str.strip()
    fold = df["track_id"].map(lambda t: int.from_bytes(hashlib.sha1(f"artist-fold:{t}".encode()).digest()[:4], "big") % folds)
    y = df["popularity"].astype(float)
    prior = y[train_mask].mean()
    mean = np.full(len(df), prior)
    rows = np.zeros(len(df))

    def fill(source, target):
        g = y[source].groupby(first[source])
        s, n = g.sum(), g.size()
        m = first[target].map((s + prior * smoothing) / (n + smoothing))
        mean[target] = m.fillna(prior).to_numpy()
        rows[target] = first[target].map(n).fillna(0).to_numpy()

    for k in range(folds):
        fill(train_mask & (fold != k).to_numpy(), train_mask & (fold == k).to_numpy())
    fill(train_mask, ~train_mask)
    return mean, np.log1p(rows)


def rmse(y, p):
    return float(np.sqrt(np.mean((np.asarray(y) - np.clip(p, 0, 100)) ** 2)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--models", default="lightgbm,xgboost")
    ap.add_argument("--write", metavar="JSON", help="also write the results here (models/reference.json: REPORT.md shows it)")
    args = ap.parse_args()

    df = training_rows(args.data)
    test = df["track_id"].map(lambda t: is_test(t, args.seed)).to_numpy()
    df["track_genre"] = df["track_genre"].astype("category")
    X = df[FEATURES + ["track_genre"]]
    y = df["popularity"].to_numpy(dtype=float)
    print(f"{len(df)} rows, {int((~test).sum())} train / {int(test.sum())} test (grouped, seed {args.seed})",
          file=sys.stderr)
    results = {}
    with_artist = X.copy()
    with_artist["artist_popularity"], with_artist["artist_rows_log"] = artist_columns(df, ~test)
    if "lightgbm" in args.models:
        import lightgbm as lgb

        for label, inputs in [("", X), (" + artist columns", with_artist)]:
            t0 = time.time()
            model = lgb.LGBMRegressor(n_estimators=2000, num_leaves=127, learning_rate=0.02,
                                      min_child_samples=20, subsample=0.8, subsample_freq=1,
                                      colsample_bytree=0.8, random_state=args.seed, verbose=-1)
            model.fit(inputs[~test], y[~test], categorical_feature=["track_genre"])
            results[f"LightGBM 4 (2,000 trees, 127 leaves, genre categorical){label}"] = (
                rmse(y[test], model.predict(inputs[test])), time.time() - t0, lgb.__version__)
    if "xgboost" in args.models:
        import xgboost as xgb

        t0 = time.time()
        model = xgb.XGBRegressor(n_estimators=1500, max_depth=10, learning_rate=0.03,
                                 min_child_weight=10, subsample=0.8, colsample_bytree=0.8,
                                 tree_method="hist", enable_categorical=True, max_cat_to_onehot=1,
                                 random_state=args.seed)
        model.fit(X[~test], y[~test])
        results["XGBoost (hist, depth 10, 1,500 trees, genre categorical)"] = (
            rmse(y[test], model.predict(X[test])), time.time() - t0, xgb.__version__)
    print("| reference | RMSE | train s | version |\n|---|---|---|---|")
    for name, (r, secs, version) in results.items():
        print(f"| {name} | {r:.3f} | {secs:.1f} | {version} |")
    if args.write:
        with open(args.data, "rb") as fh:
            sha = hashlib.sha256(fh.read()).hexdigest()
        with open(args.write, "w") as out:
            json.dump({"data_sha256": sha, "seed": args.seed, "protocol": "grouped",
                       "train_rows": int((~test).sum()), "test_rows": int(test.sum()),
                       "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "rows": [{"name": k, "rmse": v[0], "seconds": v[1], "version": v[2]}
                                for k, v in results.items()]}, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
