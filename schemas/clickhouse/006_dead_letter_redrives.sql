-- Dead letters republished to the tracks topic by `npx hitstream dead-letters redrive`, keyed by
-- the dead letter's Kafka position: a second redrive skips them. event_id is the id the
-- republished message carries (`redrive-<topic>-<partition>-<offset>`), so a redrive that stopped
-- halfway and ran again stores each event once.
CREATE TABLE IF NOT EXISTS dead_letter_redrives (
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    event_id String,
    redriven_at DateTime
) ENGINE = ReplacingMergeTree(redriven_at)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);
