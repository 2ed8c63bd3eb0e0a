-- The training references of every pushed version, so that drift is computed in SQL against the
-- version that scored each row: a promotion changes what the panels compare with, and no
-- dashboard has to be regenerated. One row per (version, subject, name): subject 'feature' (name =
-- a feature, the same for the four models) or 'score' (name = a model, model_version = its
-- manifest's version, which prediction rows carry). The decile edges and shares are spread over
-- columns (e1..e9, p0..p9; unused edges are 1e308 and their shares 0) rather than arrays, because
-- 18.16's lambdas cannot see the columns of a subquery or a join, and plain comparisons can.
CREATE TABLE IF NOT EXISTS drift_references (
    version String,
    subject String,
    name String,
    model_version String,
    e1 Float64, e2 Float64, e3 Float64, e4 Float64, e5 Float64, e6 Float64, e7 Float64, e8 Float64, e9 Float64,
    p0 Float64, p1 Float64, p2 Float64, p3 Float64, p4 Float64, p5 Float64, p6 Float64, p7 Float64, p8 Float64, p9 Float64,
    written_at DateTime
) ENGINE = ReplacingMergeTree(written_at)
ORDER BY (version, subject, name);
