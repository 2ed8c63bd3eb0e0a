-- Per-minute rollups kept by materialized views, so dashboards never scan raw rows for rates.
-- They count what was inserted: a batch re-inserted after a worker crash is counted twice here,
-- while the raw tables (read with FINAL) stay exact.

CREATE TABLE IF NOT EXISTS predictions_per_minute (
    minute DateTime,
    model String,
    predictions AggregateFunction(count),
    score_avg AggregateFunction(avg, Float32),
    latency_ms_q AggregateFunction(quantiles(0.5, 0.9, 0.99), Float32)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS predictions_per_minute_mv TO predictions_per_minute AS
SELECT
    toStartOfMinute(scored_at) AS minute,
    model,
    countState() AS predictions,
    avgState(score) AS score_avg,
    quantilesState(0.5, 0.9, 0.99)(latency_ms) AS latency_ms_q
FROM predictions
GROUP BY minute, model;

CREATE TABLE IF NOT EXISTS dead_letters_per_minute (
    minute DateTime,
    error_code String,
    dead_letters AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, error_code);

CREATE MATERIALIZED VIEW IF NOT EXISTS dead_letters_per_minute_mv TO dead_letters_per_minute AS
SELECT toStartOfMinute(time) AS minute, error_code, countState() AS dead_letters
FROM dead_letters
GROUP BY minute, error_code;
