// Package pgdb opens PostgreSQL connection pools the way floodgate's
// stores use them (sessions, the usage ledger): settings that survive a
// load balancer's failover, a server's or a proxy's idle time-out, and
// PgBouncer in transaction mode. It owns no goroutine besides the pool's.
package pgdb

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Options.
const (
	DefaultMaxConnLifetime   = 30 * time.Minute
	DefaultMaxConnIdleTime   = 5 * time.Minute
	DefaultHealthCheckPeriod = 30 * time.Second
)

// Options say how to pool connections.
type Options struct {
	// MaxConns is the pool size. Zero: pgx's default.
	MaxConns int32
	// MaxConnLifetime recycles connections, so a pool behind a load
	// balancer or PgBouncer follows failovers (pgx adds jitter). Zero:
	// DefaultMaxConnLifetime.
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes idle connections before a server's or a
	// proxy's idle time-out cuts them. Zero: DefaultMaxConnIdleTime.
	MaxConnIdleTime time.Duration
	// HealthCheckPeriod is how often idle connections are checked. Zero:
	// DefaultHealthCheckPeriod.
	HealthCheckPeriod time.Duration
	// SimpleProtocol sends queries without server-side prepared
	// statements, for PgBouncer in transaction mode before 1.21.
	SimpleProtocol bool
	// ConnectTimeout bounds establishing a connection when the DSN sets
	// no connect_timeout. Zero: the DSN's (or none).
	ConnectTimeout time.Duration
}

// Tune applies the options that concern each connection to cc: also for
// connections made outside a pool, such as a migration's.
func (o Options) Tune(cc *pgx.ConnConfig) {
	if o.SimpleProtocol {
		cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = o.ConnectTimeout
	}
}

// Open parses dsn and opens a pool with o. It does not wait for a
// connection: the first use does.
func Open(ctx context.Context, dsn string, o Options) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if o.MaxConns > 0 {
		pc.MaxConns = o.MaxConns
	}
	pc.MaxConnLifetime = or(o.MaxConnLifetime, DefaultMaxConnLifetime)
	pc.MaxConnIdleTime = or(o.MaxConnIdleTime, DefaultMaxConnIdleTime)
	pc.HealthCheckPeriod = or(o.HealthCheckPeriod, DefaultHealthCheckPeriod)
	o.Tune(pc.ConnConfig)
	return pgxpool.NewWithConfig(ctx, pc)
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
