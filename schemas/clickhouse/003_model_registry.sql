-- The model registry: versions (four models trained together), their files, and who changed
-- which role when. Files live here, not on a shared filesystem, so that every process reaches
-- them with its ClickHouse settings alone. The roles themselves are on the compacted Kafka topic
-- hitstream.models; model_role_changes is their audit trail.

-- A version's files, base64 in chunks of 1 MiB of raw bytes (a row per chunk).
CREATE TABLE IF NOT EXISTS model_files (
    version String,
    path String,
    chunk UInt32,
    data String,
    pushed_at DateTime
) ENGINE = ReplacingMergeTree(pushed_at)
ORDER BY (version, path, chunk);

-- Written after all of its files: a version without this row is an incomplete upload.
CREATE TABLE IF NOT EXISTS model_versions (
    version String,
    features String,
    files String,
    set_sha256 String,
    metrics String,
    created String,
    pushed_by String,
    pushed_at DateTime
) ENGINE = ReplacingMergeTree(pushed_at)
ORDER BY version;

CREATE TABLE IF NOT EXISTS model_role_changes (
    seq UInt64,
    at DateTime,
    by String,
    action String,
    version String,
    live String,
    shadow String,
    forced UInt8
) ENGINE = MergeTree
ORDER BY (at, seq);

-- Shadow scores, beside the live ones in `predictions` and never replacing them: keyed by the
-- version too, so several candidates can be judged on the same events.
CREATE TABLE IF NOT EXISTS shadow_predictions (
    event_id String,
    track_id String,
    track_genre String,
    model String,
    model_version String,
    set_version String,
    score Float32,
    popularity Nullable(UInt8),
    inference_us Float32,
    latency_ms Float32,
    event_time DateTime,
    scored_at DateTime
) ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_id, model, set_version);
