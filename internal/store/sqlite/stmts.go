package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// wstmts are the statements of the write connection, prepared once.
type wstmts struct {
	sessionExpiry, deleteTurns, deleteSession, insertSession *sql.Stmt
	appendCheck, insertTurn, updateAppend                    *sql.Stmt
	summaryCheck, updateSummary                              *sql.Stmt
	stateCheck, updateState                                  *sql.Stmt
	deleteLease, deleteWaiters                               *sql.Stmt
	leaseState, upsertLease, deleteWaiter, upsertWaiter      *sql.Stmt
	release, head, renew                                     *sql.Stmt
	insertUser, updateUser                                   *sql.Stmt
	putRun, updateRun                                        *sql.Stmt
}

// rstmts are the statements of the read pool.
type rstmts struct {
	loadSession, loadTurns, getUser, getRun *sql.Stmt
}

const sessionCols = `user_id, agent, state, version, turn_count, sum_text, sum_upto, sum_version, facts, created_at, updated_at, expires_at`

func (s *Store) prepare(ctx context.Context) error {
	w := &s.ws
	r := &s.rs
	list := []struct {
		db  *sql.DB
		dst **sql.Stmt
		q   string
	}{
		{s.w, &w.sessionExpiry, `SELECT expires_at FROM sessions WHERE tenant = ?1 AND id = ?2`},
		{s.w, &w.deleteTurns, `DELETE FROM turns WHERE tenant = ?1 AND session = ?2`},
		{s.w, &w.deleteSession, `DELETE FROM sessions WHERE tenant = ?1 AND id = ?2`},
		{s.w, &w.insertSession, `INSERT INTO sessions (tenant, id, ` + sessionCols + `)
			VALUES (?1, ?2, ?3, ?4, ?5, 1, 0, ?6, 0, ?7, ?8, ?9, ?9, ?10)`},
		{s.w, &w.appendCheck, `SELECT s.turn_count, s.version,
			(SELECT seq FROM turns WHERE tenant = ?1 AND session = ?2 AND turn_id = ?3),
			(SELECT fence FROM leases WHERE tenant = ?1 AND session = ?2)
			FROM sessions s WHERE s.tenant = ?1 AND s.id = ?2 AND s.expires_at > ?4`},
		{s.w, &w.insertTurn, `INSERT INTO turns (tenant, session, seq, turn_id, agent, at, messages)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`},
		{s.w, &w.updateAppend, `UPDATE sessions SET turn_count = ?3, version = ?4,
			agent = CASE WHEN ?5 = '' THEN agent ELSE ?5 END, updated_at = ?6, expires_at = ?7
			WHERE tenant = ?1 AND id = ?2`},
		{s.w, &w.summaryCheck, `SELECT turn_count, version, sum_version FROM sessions
			WHERE tenant = ?1 AND id = ?2 AND expires_at > ?3`},
		{s.w, &w.updateSummary, `UPDATE sessions SET sum_text = ?3, sum_upto = ?4, sum_version = ?5,
			facts = CASE WHEN ?6 IS NULL THEN facts ELSE ?6 END, version = ?7, updated_at = ?8, expires_at = ?9
			WHERE tenant = ?1 AND id = ?2`},
		{s.w, &w.stateCheck, `SELECT s.version, (SELECT fence FROM leases WHERE tenant = ?1 AND session = ?2)
			FROM sessions s WHERE s.tenant = ?1 AND s.id = ?2 AND s.expires_at > ?3`},
		{s.w, &w.updateState, `UPDATE sessions SET agent = CASE WHEN ?3 = '' THEN agent ELSE ?3 END,
			state = ?4, version = ?5, updated_at = ?6, expires_at = ?7 WHERE tenant = ?1 AND id = ?2`},
		{s.w, &w.deleteLease, `DELETE FROM leases WHERE tenant = ?1 AND session = ?2`},
		{s.w, &w.deleteWaiters, `DELETE FROM lease_waiters WHERE tenant = ?1 AND session = ?2`},
		{s.w, &w.leaseState, `SELECT l.fence, l.expires_at,
			(SELECT waiter FROM lease_waiters w WHERE w.tenant = ?1 AND w.session = ?2 AND w.deadline >= ?3 ORDER BY w.enq LIMIT 1)
			FROM (SELECT 1) LEFT JOIN leases l ON l.tenant = ?1 AND l.session = ?2`},
		{s.w, &w.upsertLease, `INSERT INTO leases (tenant, session, fence, owner, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
			ON CONFLICT (tenant, session) DO UPDATE SET fence = excluded.fence, owner = excluded.owner, expires_at = excluded.expires_at`},
		{s.w, &w.deleteWaiter, `DELETE FROM lease_waiters WHERE tenant = ?1 AND session = ?2 AND waiter = ?3`},
		{s.w, &w.upsertWaiter, `INSERT INTO lease_waiters (tenant, session, waiter, deadline) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (tenant, session, waiter) DO UPDATE SET deadline = excluded.deadline`},
		{s.w, &w.release, `UPDATE leases SET fence = fence + 1, owner = '', expires_at = 0
			WHERE tenant = ?1 AND session = ?2 AND fence = ?3`},
		{s.w, &w.head, `SELECT waiter FROM lease_waiters WHERE tenant = ?1 AND session = ?2 AND deadline >= ?3
			ORDER BY enq LIMIT 1`},
		{s.w, &w.renew, `UPDATE leases SET expires_at = ?4 WHERE tenant = ?1 AND session = ?2 AND fence = ?3`},
		{s.w, &w.insertUser, `INSERT INTO users (tenant, user_id, data, version, updated_at, expires_at)
			VALUES (?1, ?2, ?3, 1, ?4, ?5)
			ON CONFLICT (tenant, user_id) DO UPDATE SET data = excluded.data, version = 1,
			updated_at = excluded.updated_at, expires_at = excluded.expires_at WHERE users.expires_at <= ?4`},
		{s.w, &w.updateUser, `UPDATE users SET data = ?3, version = version + 1, updated_at = ?4, expires_at = ?5
			WHERE tenant = ?1 AND user_id = ?2 AND version = ?6 AND expires_at > ?4`},
		{s.w, &w.putRun, `INSERT INTO runs (tenant, id, session_id, agent, status, request, result, attempts,
			created_at, updated_at, expires_at, rev) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)
			ON CONFLICT (tenant, id) DO UPDATE SET session_id = excluded.session_id, agent = excluded.agent,
			status = excluded.status, request = excluded.request, result = excluded.result,
			attempts = excluded.attempts, created_at = excluded.created_at, updated_at = excluded.updated_at,
			expires_at = excluded.expires_at, rev = runs.rev + 1`},
		{s.w, &w.updateRun, `UPDATE runs SET session_id = ?3, agent = ?4, status = ?5, request = ?6, result = ?7,
			attempts = ?8, updated_at = ?9, expires_at = ?10, rev = rev + 1
			WHERE tenant = ?1 AND id = ?2 AND rev = ?11 AND expires_at > ?9`},

		{s.r, &r.loadSession, `SELECT ` + sessionCols + ` FROM sessions WHERE tenant = ?1 AND id = ?2 AND expires_at > ?3`},
		{s.r, &r.loadTurns, `SELECT seq, turn_id, agent, at, messages FROM turns
			WHERE tenant = ?1 AND session = ?2 AND seq >= ?3 AND seq <= ?4 ORDER BY seq`},
		{s.r, &r.getUser, `SELECT data, version, updated_at FROM users WHERE tenant = ?1 AND user_id = ?2 AND expires_at > ?3`},
		{s.r, &r.getRun, `SELECT session_id, agent, status, request, result, attempts, created_at, updated_at, rev
			FROM runs WHERE tenant = ?1 AND id = ?2 AND expires_at > ?3`},
	}
	for _, p := range list {
		st, err := p.db.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.q, err)
		}
		*p.dst = st
	}
	return nil
}

func closeAll(sts ...*sql.Stmt) {
	for _, st := range sts {
		if st != nil {
			st.Close()
		}
	}
}

func (w *wstmts) close() {
	closeAll(w.sessionExpiry, w.deleteTurns, w.deleteSession, w.insertSession,
		w.appendCheck, w.insertTurn, w.updateAppend, w.summaryCheck, w.updateSummary,
		w.stateCheck, w.updateState, w.deleteLease, w.deleteWaiters,
		w.leaseState, w.upsertLease, w.deleteWaiter, w.upsertWaiter,
		w.release, w.head, w.renew, w.insertUser, w.updateUser, w.putRun, w.updateRun)
}

func (r *rstmts) close() { closeAll(r.loadSession, r.loadTurns, r.getUser, r.getRun) }
