package sqlitedb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "x.db")
	db, err := Open(Options{Path: path, CacheKiB: 1024})
	require.NoError(t, err, "the directory is created")
	defer func() { require.NoError(t, db.Close()) }()
	ctx := context.Background()
	var mode string
	require.NoError(t, db.R.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
	var busy int
	require.NoError(t, db.W.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	assert.Equal(t, 5000, busy)
	assert.NotSame(t, db.W, db.R)

	_, err = db.W.ExecContext(ctx, "CREATE TABLE t (n INTEGER)")
	require.NoError(t, err)
	// Concurrent read-then-write transactions on the writer never fail
	// half-way: they begin IMMEDIATE on the one connection.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tx, err := db.W.BeginTx(ctx, nil)
			if !assert.NoError(t, err) {
				return
			}
			var n int
			assert.NoError(t, tx.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
			_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (?)", n)
			assert.NoError(t, err)
			assert.NoError(t, tx.Commit())
		})
	}
	wg.Wait()
	var n int
	require.NoError(t, db.R.QueryRowContext(ctx, "SELECT count(DISTINCT n) FROM t").Scan(&n))
	assert.Equal(t, 8, n, "each transaction saw the ones before it")
}

func TestOpenMemory(t *testing.T) {
	db, err := Open(Options{Path: Memory})
	require.NoError(t, err)
	assert.Same(t, db.W, db.R, "one connection holds an in-memory database")
	require.NoError(t, db.Close())

	_, err = Open(Options{})
	assert.Error(t, err)
}
