package postgres

import "strings"

// queries are the statements with the schema filled in, built once; pgx
// prepares and caches each on first use per connection.
type queries struct {
	create, load, appendTurn, setSummary, setState, del string
	acquire, release, leave, renew                      string
	getUser, insertUser, updateUser                     string
	putRun, getRun, updateRun                           string
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{s}", schema)
	return queries{
		create:     r.Replace(`SELECT {s}.fg_create($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		appendTurn: r.Replace(`SELECT o_status, o_seq, o_version FROM {s}.fg_append($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
		setSummary: r.Replace(`SELECT o_status, o_version FROM {s}.fg_set_summary($1, $2, $3, $4, $5, $6, $7, $8)`),
		setState:   r.Replace(`SELECT o_status, o_version FROM {s}.fg_set_state($1, $2, $3, $4, $5, $6, $7)`),
		del:        r.Replace(`SELECT {s}.fg_delete($1, $2, $3, $4)`),
		// One statement, one snapshot: the session row and its window of
		// turns (newest first through the primary key, then re-sorted).
		// Session columns repeat on every row; only the first is decoded.
		load: r.Replace(`SELECT s.user_id, s.agent, s.state, s.version, s.turn_count, s.sum_text, s.sum_upto, s.sum_version,
			s.facts, s.created_at, s.updated_at, s.expires_at, t.seq, t.turn_id, t.agent, t.at, t.messages
			FROM {s}.sessions s
			LEFT JOIN LATERAL (
				SELECT tt.seq, tt.turn_id, tt.agent, tt.at, tt.messages FROM {s}.turns tt
				WHERE tt.tenant = s.tenant AND tt.session = s.id
				AND tt.seq > (CASE WHEN $3::bigint < 0 THEN s.sum_upto ELSE $3::bigint END)
				ORDER BY tt.seq DESC
				LIMIT (CASE WHEN $4::bigint > 0 THEN $4::bigint END)
			) t ON true
			WHERE s.tenant = $1 AND s.id = $2 AND s.expires_at > $5
			ORDER BY t.seq`),
		acquire: r.Replace(`SELECT o_granted, o_token, o_wait_ms FROM {s}.fg_acquire($1, $2, $3, $4, $5, $6)`),
		release: r.Replace(`SELECT {s}.fg_release($1, $2, $3, $4)`),
		leave:   r.Replace(`SELECT {s}.fg_leave($1, $2, $3, $4)`),
		renew: r.Replace(`UPDATE {s}.leases SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
			WHERE tenant = $1 AND session = $2 AND fence = $3`),
		getUser: r.Replace(`SELECT data, version, updated_at FROM {s}.users
			WHERE tenant = $1 AND user_id = $2 AND expires_at > $3`),
		insertUser: r.Replace(`INSERT INTO {s}.users (tenant, user_id, data, version, updated_at, expires_at)
			VALUES ($1, $2, $3, 1, $4, $5)
			ON CONFLICT (tenant, user_id) DO UPDATE SET data = excluded.data, version = 1,
			updated_at = excluded.updated_at, expires_at = excluded.expires_at WHERE {s}.users.expires_at <= $4`),
		updateUser: r.Replace(`UPDATE {s}.users SET data = $3, version = version + 1, updated_at = $4, expires_at = $5
			WHERE tenant = $1 AND user_id = $2 AND version = $6 AND expires_at > $4`),
		putRun: r.Replace(`INSERT INTO {s}.runs (tenant, id, session_id, agent, status, request, result, attempts,
			created_at, updated_at, expires_at, rev) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)
			ON CONFLICT (tenant, id) DO UPDATE SET session_id = excluded.session_id, agent = excluded.agent,
			status = excluded.status, request = excluded.request, result = excluded.result,
			attempts = excluded.attempts, created_at = excluded.created_at, updated_at = excluded.updated_at,
			expires_at = excluded.expires_at, rev = {s}.runs.rev + 1`),
		getRun: r.Replace(`SELECT session_id, agent, status, request, result, attempts, created_at, updated_at, rev
			FROM {s}.runs WHERE tenant = $1 AND id = $2 AND expires_at > $3`),
		updateRun: r.Replace(`UPDATE {s}.runs SET session_id = $3, agent = $4, status = $5, request = $6, result = $7,
			attempts = $8, updated_at = $9, expires_at = $10, rev = rev + 1
			WHERE tenant = $1 AND id = $2 AND rev = $11 AND expires_at > $9`),
	}
}
