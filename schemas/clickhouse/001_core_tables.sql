-- Core tables. Every statement here must run unchanged on ClickHouse 18.16 (Debian's) and on a
-- current release (docker-compose, chdb in tests): no LowCardinality, DateTime64, TTL or query
-- parameters. Times are DateTime (seconds); sub-second latencies live in their own columns.

-- One row per valid track event. ReplacingMergeTree + deterministic event_id: a re-delivered
-- event after a worker crash collapses to one row (read with FINAL).
CREATE TABLE IF NOT EXISTS track_events (
    event_id String,
    track_id String,
    track_name String,
    artists String,
    album_name String,
    track_genre String,
    duration_ms Float64,
    explicit UInt8,
    danceability Float32,
    energy Float32,
    key Int8,
    loudness Float32,
    mode UInt8,
    speechiness Float32,
    acousticness Float32,
    instrumentalness Float32,
    liveness Float32,
    valence Float32,
    tempo Float32,
    time_signature UInt8,
    popularity Nullable(UInt8),
    source String,
    event_time DateTime,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY event_id;

-- Predictions in long form: one row per event per model.
CREATE TABLE IF NOT EXISTS predictions (
    event_id String,
    track_id String,
    track_genre String,
    model String,
    model_version String,
    score Float32,
    popularity Nullable(UInt8),
    inference_us Float32,
    latency_ms Float32,
    event_time DateTime,
    scored_at DateTime
) ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_id, model);

-- Events that could not be scored, whole, with the reason. Keyed by their Kafka position so a
-- re-delivery does not count twice.
CREATE TABLE IF NOT EXISTS dead_letters (
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    message_key String,
    error_code String,
    message String,
    field String,
    payload String,
    payload_encoding String,
    payload_bytes UInt32,
    time DateTime
) ENGINE = ReplacingMergeTree(time)
PARTITION BY toYYYYMM(time)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);
