-- floodgate store, SQLite schema version 1. Times are Unix milliseconds.
CREATE TABLE sessions (
    tenant      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    turn_count  INTEGER NOT NULL,
    sum_text    TEXT    NOT NULL,
    sum_upto    INTEGER NOT NULL,
    sum_version INTEGER NOT NULL,
    facts       BLOB,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE turns (
    tenant   TEXT    NOT NULL,
    session  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    turn_id  TEXT    NOT NULL,
    agent    TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    messages BLOB    NOT NULL,
    PRIMARY KEY (tenant, session, seq)
);
CREATE UNIQUE INDEX turns_id ON turns (tenant, session, turn_id);

-- fence is the session's newest fencing token: a grant and a release each
-- raise it, so only the holder's token equals it.
CREATE TABLE leases (
    tenant     TEXT    NOT NULL,
    session    TEXT    NOT NULL,
    fence      INTEGER NOT NULL,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, session)
);

-- The queue of Acquire calls waiting for a lease, in arrival (enq) order; a
-- waiter whose deadline passed has stopped polling and is skipped.
CREATE TABLE lease_waiters (
    enq      INTEGER PRIMARY KEY,
    tenant   TEXT    NOT NULL,
    session  TEXT    NOT NULL,
    waiter   TEXT    NOT NULL,
    deadline INTEGER NOT NULL
);
CREATE UNIQUE INDEX lease_waiters_key ON lease_waiters (tenant, session, waiter);
CREATE INDEX lease_waiters_order ON lease_waiters (tenant, session, enq);

CREATE TABLE users (
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    data       BLOB,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX users_expiry ON users (expires_at);

-- rev is UpdateRun's compare-and-set counter.
CREATE TABLE runs (
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    agent      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    request    BLOB,
    result     BLOB,
    attempts   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rev        INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX runs_expiry ON runs (expires_at);
