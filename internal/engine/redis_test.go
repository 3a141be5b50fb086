package engine

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/store/redis"
)

const redisAddr = "127.0.0.1:6379"

// openRedis opens a Redis store under prefix; the prefix's keys are
// deleted when the test ends.
func openRedis(t *testing.T, prefix string) *redis.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := redis.Open(ctx, redis.Config{Addr: redisAddr, Prefix: prefix, DialTimeout: time.Second})
	requireService(t, "Redis at "+redisAddr, err)
	t.Cleanup(func() {
		require.NoError(t, st.Close())
		c := goredis.NewClient(&goredis.Options{Addr: redisAddr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return st
}

func TestConcurrentTurnsOneSessionRedis(t *testing.T) {
	concurrentTurns(t, openRedis(t, "fgtest:"+randomName()+":"))
}

// TestRedisSecondProcessContinues: a conversation started through one
// node is continued by another that shares the Redis.
func TestRedisSecondProcessContinues(t *testing.T) {
	prefix := "fgtest:" + randomName() + ":"
	ctx := context.Background()
	a := newEnv(t, envOptions{config: func(c *Config) { c.Sessions = openRedis(t, prefix) }})
	res, err := a.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "conv", UserID: "u1", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Seq)

	b := newEnv(t, envOptions{config: func(c *Config) { c.Sessions = openRedis(t, prefix) }})
	res2, err := b.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "conv", Input: "When will it arrive?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res2.Seq)
	require.NotEmpty(t, res2.ToolCalls)
	assert.JSONEq(t, `{"order_id":"100123"}`, string(res2.ToolCalls[0].Arguments), "node B read node A's turn")
	assert.Equal(t, 1, b.rec.snapshot()[0].priorUsers)

	sess, err := a.engine.Session(ctx, "t1", "conv")
	require.NoError(t, err)
	assert.Len(t, sess.Turns, 2)
	assert.Equal(t, "u1", sess.UserID)
}
