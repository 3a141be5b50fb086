-- The usage ledger: one row per model call and per agent run.
-- {schema} is replaced by the configured schema's name before goose runs.
-- Costs are integer nano-dollars, so that sums are exact.

-- +goose Up
CREATE TABLE IF NOT EXISTS {schema}.usage_records (
    id            text        PRIMARY KEY,
    kind          text        NOT NULL,
    at            timestamptz NOT NULL,
    run_id        text        NOT NULL DEFAULT '',
    call_index    integer     NOT NULL DEFAULT 0,
    tenant        text        NOT NULL DEFAULT '',
    tier          text        NOT NULL DEFAULT '',
    user_id       text        NOT NULL DEFAULT '',
    session_id    text        NOT NULL DEFAULT '',
    agent         text        NOT NULL DEFAULT '',
    intent        text        NOT NULL DEFAULT '',
    model         text        NOT NULL DEFAULT '',
    endpoint      text        NOT NULL DEFAULT '',
    tokens_in     bigint      NOT NULL DEFAULT 0,
    tokens_out    bigint      NOT NULL DEFAULT 0,
    tokens_cached bigint      NOT NULL DEFAULT 0,
    cost_nanos    bigint      NOT NULL DEFAULT 0,
    latency_us    bigint      NOT NULL DEFAULT 0,
    status        text        NOT NULL DEFAULT '',
    error         text        NOT NULL DEFAULT '',
    degraded      boolean     NOT NULL DEFAULT false,
    -- toplevel: a run, or a call outside any run (what a client saw).
    toplevel      boolean     NOT NULL
);
-- Breakdowns read a time range.
CREATE INDEX IF NOT EXISTS usage_records_at ON {schema}.usage_records (at);

-- +goose Down
DROP TABLE IF EXISTS {schema}.usage_records;
