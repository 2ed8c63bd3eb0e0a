#!/usr/bin/env python3
"""
The reference for hitstream's Tree SHAP (models/explain/tree-shap.ts): Python shap's TreeExplainer
(path-dependent, its C++ algorithm) on the trees hitstream ships, exported by `bench shap`.

  pip install shap numpy
  python3 bench/shap_reference.py EXPORT_DIR

EXPORT_DIR holds, per model (rf, xgb), <model>.json (the header: trees' node ranges, base offset,
feature count) and <model>.<array>.bin (little-endian arrays over every node of every tree); and
rows.bin (float32, rows × features). Writes <model>.shap.json: base value and values per row.
The trees come as shap's custom-tree dictionaries; thresholds are already shap's `x <= t` form.
CI does not run this; the unit tests check a committed fixture of its output.
"""
import json
import os
import sys

import numpy as np
import shap


def read(dir_, name, array, dtype):
    return np.fromfile(os.path.join(dir_, f"{name}.{array}.bin"), dtype=dtype)


def tree_dicts(dir_, name, header):
    left = read(dir_, name, "left", np.int32)
    right = read(dir_, name, "right", np.int32)
    default = read(dir_, name, "default", np.int32)
    feature = read(dir_, name, "feature", np.int32)
    threshold = read(dir_, name, "threshold", np.float64)
    value = read(dir_, name, "value", np.float64)
    cover = read(dir_, name, "cover", np.float64)
    trees = []
    for start, end in header["ranges"]:
        local = lambda a: np.where(a[start:end] < 0, -1, a[start:end] - start).astype(np.int32)
        trees.append({
            "children_left": local(left),
            "children_right": local(right),
            "children_default": local(default),
            "features": feature[start:end].copy(),
            "thresholds": threshold[start:end].copy(),
            "values": value[start:end].reshape(-1, 1).copy(),
            "node_sample_weight": cover[start:end].copy(),
        })
    return trees


def main():
    dir_ = sys.argv[1]
    with open(os.path.join(dir_, "rows.json")) as fh:
        n_features = json.load(fh)["features"]
    X = np.fromfile(os.path.join(dir_, "rows.bin"), dtype=np.float32).reshape(-1, n_features)
    for name in ("rf", "xgb"):
        with open(os.path.join(dir_, f"{name}.json")) as fh:
            header = json.load(fh)
        model = {
            "trees": tree_dicts(dir_, name, header),
            "base_offset": header["base_offset"],
            "tree_output": "raw_value",
            "objective": "squared_error",
            "input_dtype": np.float32,
            "internal_dtype": np.float64,
        }
        explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
        values = explainer.shap_values(X, check_additivity=False)
        base = float(np.asarray(explainer.expected_value).reshape(-1)[0])
        with open(os.path.join(dir_, f"{name}.shap.json"), "w") as fh:
            json.dump({"shap": shap.__version__, "base": base, "values": values.tolist()}, fh)
        print(f"{name}: {len(header['ranges'])} trees, {X.shape[0]} rows explained by shap {shap.__version__}")


if __name__ == "__main__":
    main()
