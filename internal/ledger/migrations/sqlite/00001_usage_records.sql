-- The usage ledger: one row per model call and per agent run.
-- Times are Unix microseconds (UTC); flags are 0 or 1; costs are integer
-- nano-dollars, so that sums are exact.

-- +goose Up
CREATE TABLE IF NOT EXISTS usage_records (
    id            TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    run_id        TEXT    NOT NULL DEFAULT '',
    call_index    INTEGER NOT NULL DEFAULT 0,
    tenant        TEXT    NOT NULL DEFAULT '',
    tier          TEXT    NOT NULL DEFAULT '',
    user_id       TEXT    NOT NULL DEFAULT '',
    session_id    TEXT    NOT NULL DEFAULT '',
    agent         TEXT    NOT NULL DEFAULT '',
    intent        TEXT    NOT NULL DEFAULT '',
    model         TEXT    NOT NULL DEFAULT '',
    endpoint      TEXT    NOT NULL DEFAULT '',
    tokens_in     INTEGER NOT NULL DEFAULT 0,
    tokens_out    INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    cost_nanos    INTEGER NOT NULL DEFAULT 0,
    latency_us    INTEGER NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL DEFAULT '',
    error         TEXT    NOT NULL DEFAULT '',
    degraded      INTEGER NOT NULL DEFAULT 0,
    -- toplevel: a run, or a call outside any run (what a client saw).
    toplevel      INTEGER NOT NULL
);
-- Breakdowns read a time range.
CREATE INDEX IF NOT EXISTS usage_records_at ON usage_records (at);

-- +goose Down
DROP TABLE IF EXISTS usage_records;
