-- Explanations of a sample of the scored events (HITSTREAM_EXPLAIN_SAMPLE): each score's SHAP
-- values, keyed like predictions (event, model) and by the version that scored it, so a shadow
-- version's sit beside live's. `features` and `contributions` are parallel arrays (ARRAY JOIN
-- reads them as rows). Best effort: the workers write them after the event's own rows.
CREATE TABLE IF NOT EXISTS explanations (
    event_id String,
    track_id String,
    track_genre String,
    model String,
    model_version String,
    base Float32,
    output Float32,
    features Array(String),
    contributions Array(Float32),
    event_time DateTime,
    explained_at DateTime
) ENGINE = ReplacingMergeTree(explained_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_id, model, model_version);

-- Each score's mean |SHAP| per feature on its training rows (the set's explanations.json), by the
-- score's model version: what attribution drift compares a window of explanations with.
CREATE TABLE IF NOT EXISTS attribution_references (
    model_version String,
    feature String,
    mean_abs Float64,
    written_at DateTime
) ENGINE = ReplacingMergeTree(written_at)
ORDER BY (model_version, feature);
