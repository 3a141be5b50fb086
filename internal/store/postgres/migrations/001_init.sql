-- floodgate store, PostgreSQL schema version 1. {schema} is replaced by the
-- configured schema's quoted name. JSON is kept as bytea: opaque to the
-- store and read back byte for byte.

CREATE TABLE {schema}.sessions (
    tenant      text        NOT NULL,
    id          text        NOT NULL,
    user_id     text        NOT NULL,
    agent       text        NOT NULL,
    state       text        NOT NULL,
    version     bigint      NOT NULL,
    turn_count  bigint      NOT NULL,
    sum_text    text        NOT NULL,
    sum_upto    bigint      NOT NULL,
    sum_version bigint      NOT NULL,
    facts       bytea,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX sessions_expiry ON {schema}.sessions (expires_at);

CREATE TABLE {schema}.turns (
    tenant   text        NOT NULL,
    session  text        NOT NULL,
    seq      bigint      NOT NULL,
    turn_id  text        NOT NULL,
    agent    text        NOT NULL,
    at       timestamptz NOT NULL,
    messages bytea       NOT NULL,
    PRIMARY KEY (tenant, session, seq),
    UNIQUE (tenant, session, turn_id),
    FOREIGN KEY (tenant, session) REFERENCES {schema}.sessions (tenant, id) ON DELETE CASCADE
);

-- fence is the session's newest fencing token: a grant and a release each
-- raise it, so only the holder's token equals it. Lease times are the
-- database's clock, shared by every node.
CREATE TABLE {schema}.leases (
    tenant     text        NOT NULL,
    session    text        NOT NULL,
    fence      bigint      NOT NULL,
    owner      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, session)
);

-- Acquire calls waiting for a lease, in arrival (enq) order; a waiter whose
-- deadline passed stopped polling and is skipped.
CREATE TABLE {schema}.lease_waiters (
    enq      bigserial   PRIMARY KEY,
    tenant   text        NOT NULL,
    session  text        NOT NULL,
    waiter   text        NOT NULL,
    deadline timestamptz NOT NULL,
    UNIQUE (tenant, session, waiter)
);
CREATE INDEX lease_waiters_order ON {schema}.lease_waiters (tenant, session, enq);

CREATE TABLE {schema}.users (
    tenant     text        NOT NULL,
    user_id    text        NOT NULL,
    data       bytea,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX users_expiry ON {schema}.users (expires_at);

-- rev is UpdateRun's compare-and-set counter.
CREATE TABLE {schema}.runs (
    tenant     text        NOT NULL,
    id         text        NOT NULL,
    session_id text        NOT NULL,
    agent      text        NOT NULL,
    status     text        NOT NULL,
    request    bytea,
    result     bytea,
    attempts   integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rev        bigint      NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX runs_expiry ON {schema}.runs (expires_at);

-- The functions below make each session write one round trip and one
-- transaction. Lock order is always session row, then lease row.

CREATE FUNCTION {schema}.fg_create(p_tenant text, p_id text, p_user text, p_agent text, p_state text,
    p_sum_text text, p_sum_version bigint, p_facts bytea, p_now timestamptz, p_expires timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    -- An expired session not yet reaped gives way, turns and all.
    DELETE FROM {schema}.sessions WHERE tenant = p_tenant AND id = p_id AND expires_at <= p_now;
    INSERT INTO {schema}.sessions (tenant, id, user_id, agent, state, version, turn_count,
        sum_text, sum_upto, sum_version, facts, created_at, updated_at, expires_at)
    VALUES (p_tenant, p_id, p_user, p_agent, p_state, 1, 0, p_sum_text, 0, p_sum_version, p_facts,
        p_now, p_now, p_expires)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END $$;

-- o_status: 0 ok (or a retried turn), 1 not found, 2 lease lost.
CREATE FUNCTION {schema}.fg_append(p_tenant text, p_id text, p_token bigint, p_turn_id text, p_agent text,
    p_at timestamptz, p_messages bytea, p_now timestamptz, p_expires timestamptz,
    OUT o_status integer, OUT o_seq bigint, OUT o_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_fence bigint;
BEGIN
    SELECT s.turn_count, s.version INTO v_count, o_version FROM {schema}.sessions s
        WHERE s.tenant = p_tenant AND s.id = p_id AND s.expires_at > p_now FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 1;
        RETURN;
    END IF;
    SELECT t.seq INTO o_seq FROM {schema}.turns t
        WHERE t.tenant = p_tenant AND t.session = p_id AND t.turn_id = p_turn_id;
    IF FOUND THEN
        o_status := 0;
        RETURN;
    END IF;
    -- FOR SHARE holds off a new holder's Acquire until this write commits,
    -- so whoever acquires next loads this turn.
    SELECT l.fence INTO v_fence FROM {schema}.leases l
        WHERE l.tenant = p_tenant AND l.session = p_id FOR SHARE;
    IF v_fence IS DISTINCT FROM p_token THEN
        o_status := 2;
        RETURN;
    END IF;
    o_seq := v_count + 1;
    o_version := o_version + 1;
    INSERT INTO {schema}.turns (tenant, session, seq, turn_id, agent, at, messages)
        VALUES (p_tenant, p_id, o_seq, p_turn_id, p_agent, p_at, p_messages);
    UPDATE {schema}.sessions SET turn_count = o_seq, version = o_version,
        agent = CASE WHEN p_agent = '' THEN agent ELSE p_agent END, updated_at = p_now, expires_at = p_expires
        WHERE tenant = p_tenant AND id = p_id;
    o_status := 0;
END $$;

-- o_status: 0 ok, 1 not found, 3 beyond the last turn, 4 conflict.
CREATE FUNCTION {schema}.fg_set_summary(p_tenant text, p_id text, p_expect bigint, p_text text, p_upto bigint,
    p_facts bytea, p_now timestamptz, p_expires timestamptz, OUT o_status integer, OUT o_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_sver bigint;
BEGIN
    SELECT s.turn_count, s.sum_version INTO v_count, v_sver FROM {schema}.sessions s
        WHERE s.tenant = p_tenant AND s.id = p_id AND s.expires_at > p_now FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 1;
        RETURN;
    END IF;
    IF p_upto < 0 OR p_upto > v_count THEN
        o_status := 3;
        RETURN;
    END IF;
    IF v_sver <> p_expect THEN
        o_status := 4;
        RETURN;
    END IF;
    o_version := p_expect + 1;
    UPDATE {schema}.sessions SET sum_text = p_text, sum_upto = p_upto, sum_version = o_version,
        facts = coalesce(p_facts, facts), version = version + 1, updated_at = p_now, expires_at = p_expires
        WHERE tenant = p_tenant AND id = p_id;
    o_status := 0;
END $$;

-- o_status: 0 ok, 1 not found, 2 lease lost.
CREATE FUNCTION {schema}.fg_set_state(p_tenant text, p_id text, p_token bigint, p_agent text, p_state text,
    p_now timestamptz, p_expires timestamptz, OUT o_status integer, OUT o_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_fence bigint;
BEGIN
    SELECT s.version INTO o_version FROM {schema}.sessions s
        WHERE s.tenant = p_tenant AND s.id = p_id AND s.expires_at > p_now FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 1;
        RETURN;
    END IF;
    SELECT l.fence INTO v_fence FROM {schema}.leases l
        WHERE l.tenant = p_tenant AND l.session = p_id FOR SHARE;
    IF v_fence IS DISTINCT FROM p_token THEN
        o_status := 2;
        RETURN;
    END IF;
    o_version := o_version + 1;
    UPDATE {schema}.sessions SET agent = CASE WHEN p_agent = '' THEN agent ELSE p_agent END,
        state = p_state, version = o_version, updated_at = p_now, expires_at = p_expires
        WHERE tenant = p_tenant AND id = p_id;
    o_status := 0;
END $$;

-- Returns false when there was no live session. Wakes the lease's next
-- waiter: the lease goes with the session.
CREATE FUNCTION {schema}.fg_delete(p_tenant text, p_id text, p_now timestamptz, p_channel text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_exp timestamptz;
    v_head text;
BEGIN
    DELETE FROM {schema}.sessions WHERE tenant = p_tenant AND id = p_id RETURNING expires_at INTO v_exp;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM {schema}.leases WHERE tenant = p_tenant AND session = p_id;
    SELECT w.waiter INTO v_head FROM {schema}.lease_waiters w
        WHERE w.tenant = p_tenant AND w.session = p_id AND w.deadline >= clock_timestamp() ORDER BY w.enq LIMIT 1;
    IF v_head IS NOT NULL THEN
        PERFORM pg_notify(p_channel, v_head);
    END IF;
    DELETE FROM {schema}.lease_waiters WHERE tenant = p_tenant AND session = p_id;
    RETURN v_exp > p_now;
END $$;

-- Lease changes commit without waiting for the WAL flush: losing the last
-- of them in a server crash is safe, because a token is above the fence and
-- at least the clock in microseconds, so none is handed out twice, and a
-- write under a lost grant fails its fence check. Turns, summaries, user
-- state and runs commit as the server's synchronous_commit says.

-- Grants the lease (o_granted, o_token) when it is free and nobody live is
-- queued ahead of p_waiter; otherwise queues p_waiter (or refreshes its
-- deadline) and says how long the holder's lease has left.
CREATE FUNCTION {schema}.fg_acquire(p_tenant text, p_id text, p_waiter text, p_owner text,
    p_ttl_ms bigint, p_live_ms bigint, OUT o_granted boolean, OUT o_token bigint, OUT o_wait_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_fence bigint;
    v_exp timestamptz;
    v_head text;
BEGIN
    -- Transaction-local, unlike a SET clause, which ends before the commit.
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT l.fence, l.expires_at INTO v_fence, v_exp FROM {schema}.leases l
        WHERE l.tenant = p_tenant AND l.session = p_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO {schema}.leases (tenant, session, fence, owner, expires_at)
            VALUES (p_tenant, p_id, 0, '', 'epoch')
            ON CONFLICT DO NOTHING;
        SELECT l.fence, l.expires_at INTO v_fence, v_exp FROM {schema}.leases l
            WHERE l.tenant = p_tenant AND l.session = p_id FOR UPDATE;
    END IF;
    SELECT w.waiter INTO v_head FROM {schema}.lease_waiters w
        WHERE w.tenant = p_tenant AND w.session = p_id AND w.deadline >= v_now ORDER BY w.enq LIMIT 1;
    IF v_exp <= v_now AND (v_head IS NULL OR v_head = p_waiter) THEN
        o_token := greatest(v_fence + 1, (extract(epoch FROM v_now) * 1000000)::bigint);
        UPDATE {schema}.leases SET fence = o_token, owner = p_owner,
            expires_at = v_now + p_ttl_ms * interval '1 millisecond'
            WHERE tenant = p_tenant AND session = p_id;
        IF v_head IS NOT NULL THEN
            DELETE FROM {schema}.lease_waiters WHERE tenant = p_tenant AND session = p_id AND waiter = p_waiter;
        END IF;
        o_granted := true;
        o_wait_ms := 0;
        RETURN;
    END IF;
    INSERT INTO {schema}.lease_waiters (tenant, session, waiter, deadline)
        VALUES (p_tenant, p_id, p_waiter, v_now + p_live_ms * interval '1 millisecond')
        ON CONFLICT (tenant, session, waiter) DO UPDATE SET deadline = excluded.deadline;
    o_granted := false;
    o_token := 0;
    o_wait_ms := CASE WHEN v_exp > v_now THEN ceil(extract(epoch FROM v_exp - v_now) * 1000)::bigint ELSE 0 END;
END $$;

-- Raises the fence (the released token goes stale), frees the lease and
-- wakes the next live waiter; returns it, or ''.
CREATE FUNCTION {schema}.fg_release(p_tenant text, p_id text, p_token bigint, p_channel text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_head text;
BEGIN
    -- Transaction-local, unlike a SET clause, which ends before the commit.
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE {schema}.leases SET fence = fence + 1, owner = '', expires_at = 'epoch'
        WHERE tenant = p_tenant AND session = p_id AND fence = p_token;
    IF NOT FOUND THEN
        RETURN '';
    END IF;
    SELECT w.waiter INTO v_head FROM {schema}.lease_waiters w
        WHERE w.tenant = p_tenant AND w.session = p_id AND w.deadline >= clock_timestamp() ORDER BY w.enq LIMIT 1;
    IF v_head IS NULL THEN
        RETURN '';
    END IF;
    PERFORM pg_notify(p_channel, v_head);
    RETURN v_head;
END $$;

-- Takes a waiter that gave up out of the queue and, when the lease is free,
-- wakes the next; returns it, or ''.
CREATE FUNCTION {schema}.fg_leave(p_tenant text, p_id text, p_waiter text, p_channel text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_head text;
BEGIN
    -- Transaction-local, unlike a SET clause, which ends before the commit.
    PERFORM set_config('synchronous_commit', 'off', true);
    DELETE FROM {schema}.lease_waiters WHERE tenant = p_tenant AND session = p_id AND waiter = p_waiter;
    IF EXISTS (SELECT 1 FROM {schema}.leases l WHERE l.tenant = p_tenant AND l.session = p_id AND l.expires_at > v_now) THEN
        RETURN '';
    END IF;
    SELECT w.waiter INTO v_head FROM {schema}.lease_waiters w
        WHERE w.tenant = p_tenant AND w.session = p_id AND w.deadline >= v_now ORDER BY w.enq LIMIT 1;
    IF v_head IS NULL THEN
        RETURN '';
    END IF;
    PERFORM pg_notify(p_channel, v_head);
    RETURN v_head;
END $$;
