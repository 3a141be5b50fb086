package pgdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpen: the options reach the pool, the defaults fill what they leave
// out, and a DSN's own connect_timeout wins. Open connects lazily, so no
// server is needed.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, "postgres://u@127.0.0.1:1/db", Options{MaxConns: 3, MaxConnIdleTime: time.Minute,
		SimpleProtocol: true, ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer p.Close()
	c := p.Config()
	assert.EqualValues(t, 3, c.MaxConns)
	assert.Equal(t, time.Minute, c.MaxConnIdleTime)
	assert.Equal(t, DefaultMaxConnLifetime, c.MaxConnLifetime)
	assert.Equal(t, DefaultHealthCheckPeriod, c.HealthCheckPeriod)
	assert.Equal(t, pgx.QueryExecModeSimpleProtocol, c.ConnConfig.DefaultQueryExecMode)
	assert.Equal(t, 2*time.Second, c.ConnConfig.ConnectTimeout)

	q, err := Open(ctx, "postgres://u@127.0.0.1:1/db?connect_timeout=7", Options{ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer q.Close()
	assert.Equal(t, 7*time.Second, q.Config().ConnConfig.ConnectTimeout)

	_, err = Open(ctx, "not a dsn ://", Options{})
	assert.Error(t, err)
}
