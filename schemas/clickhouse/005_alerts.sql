-- Every alert Alertmanager sent to the API's receiver, firing and resolved. One row per
-- (fingerprint, starts_at, status): Alertmanager repeats a firing alert every repeat_interval, and
-- those repeats collapse into one row; the resolved notice is a second row. ends_at is 1970 while
-- the alert fires.
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint String,
    alertname String,
    status String,
    severity String,
    summary String,
    runbook String,
    labels String,
    starts_at DateTime,
    ends_at DateTime,
    received_at DateTime
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(starts_at)
ORDER BY (fingerprint, starts_at, status);
