-- Labels that arrive after the events they judge (the labels topic, stored by `label-sink`): a
-- track's popularity as observed at label_time, for every event of the track (event_id '') or for
-- one event. Both times are kept: label_time (when it was true) and arrived_at (when hitstream
-- learnt it; `train --labels-before` reads only what had arrived).
-- A label that arrives twice (same track, event and label_time) is stored once, keeping its FIRST
-- arrival (the version column falls as arrived_at grows), so an earlier training set can always
-- be read again. A newer label of a track is another row; reads take the latest label_time.
CREATE TABLE IF NOT EXISTS labels (
    track_id String,
    event_id String,
    popularity UInt8,
    label_time DateTime,
    arrived_at DateTime,
    source String,
    first_arrival UInt32
) ENGINE = ReplacingMergeTree(first_arrival)
PARTITION BY toYYYYMM(label_time)
ORDER BY (track_id, event_id, label_time);
