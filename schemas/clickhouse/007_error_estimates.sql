-- The error estimated before labels, per minute, version, role and score: written by the API's
-- quality exporter each time it computes (api/quality/), over its window ending that minute. The
-- drift dashboard draws it beside the realized RMSE, and `alerts calibrate` reads its history.
-- Several API replicas write the same key: one row is kept.
CREATE TABLE IF NOT EXISTS error_estimates (
    minute DateTime,
    version String,
    role String,
    model String,
    estimated_rmse Float64,
    events UInt64,
    window_seconds UInt32,
    computed_at DateTime
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (version, role, model, minute);
