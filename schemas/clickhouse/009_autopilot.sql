-- The autopilot's runs, step by step: beside model_role_changes (which holds the role changes
-- it makes, by `autopilot`), each step of a run with its reason and figures (JSON). A restarted
-- autopilot reads its unfinished run from here; the Models page draws the runs from here.
CREATE TABLE IF NOT EXISTS autopilot_steps (
    run String,
    seq UInt32,
    at DateTime,
    by String,
    step String,
    state String,
    version String,
    reason String,
    figures String
) ENGINE = MergeTree
ORDER BY (run, seq);
