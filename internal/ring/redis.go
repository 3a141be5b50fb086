package ring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// backend is where members meet and owners are recorded. Redis is the one
// the package ships; tests add an in-memory one.
type backend interface {
	// heartbeat writes m's record for ttl, announcing m if it was absent.
	heartbeat(ctx context.Context, m Member, ttl time.Duration) error
	// members returns the live records and how long each has left.
	members(ctx context.Context) ([]liveMember, error)
	// leave deletes id's record and announces it.
	leave(ctx context.Context, id string) error
	// subscribe calls kick on every announcement until stop is called.
	subscribe(ctx context.Context, kick func()) (stop func(), err error)
	// lookup returns the owner recorded under key ("" for none) and
	// extends the record to ttl: a session that has turns keeps its owner.
	lookup(ctx context.Context, key string, ttl time.Duration) (string, time.Duration, error)
	// claim records owner under key for ttl if the record still names old
	// ("" for none) or has gone, and returns the owner then recorded and
	// whether this call wrote it.
	claim(ctx context.Context, key, old, owner string, ttl time.Duration) (string, time.Duration, bool, error)
}

// liveMember is a member with the time its record has left.
type liveMember struct {
	Member
	left time.Duration
}

// redisBackend keeps members under one hash tag, {nodes}, so that the
// scripts touching several of them also run on Redis Cluster; owner records
// are single keys wherever they hash.
type redisBackend struct {
	rdb     goredis.UniversalClient
	prefix  string // Prefix + "ring:{nodes}"
	channel string
}

func newRedisBackend(rdb goredis.UniversalClient, prefix string) *redisBackend {
	return &redisBackend{rdb: rdb, prefix: prefix + "ring:{nodes}", channel: prefix + "ring:events"}
}

func (b *redisBackend) nodeKey(id string) string { return b.prefix + ":" + id }

// KEYS node set; ARGV record ttl started id channel.
var heartbeatScript = goredis.NewScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if existed == 0 then redis.call('PUBLISH', ARGV[5], 'join ' .. ARGV[4]) end
return existed
`)

// KEYS node set; ARGV id channel.
var leaveScript = goredis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'leave ' .. ARGV[1])
return 1
`)

// KEYS owner; ARGV ttl. Returns {owner, ms left}, owner empty for none.
var lookupScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return {'', 0} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {cur, tonumber(ARGV[1])}
`)

// KEYS owner; ARGV old new ttl. Returns {owner, ms left, 1 if written}.
var claimScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return {ARGV[2], tonumber(ARGV[3]), 1}
end
return {cur, redis.call('PTTL', KEYS[1]), 0}
`)

func (b *redisBackend) heartbeat(ctx context.Context, m Member, ttl time.Duration) error {
	rec, err := m.encode()
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	err = heartbeatScript.Run(ctx, b.rdb, []string{b.nodeKey(m.ID), b.prefix},
		rec, ttl.Milliseconds(), strconv.FormatInt(m.Started.UnixMilli(), 10), m.ID, b.channel).Err()
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

func (b *redisBackend) members(ctx context.Context) ([]liveMember, error) {
	ids, err := b.rdb.ZRange(ctx, b.prefix, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	gets := make([]*goredis.StringCmd, len(ids))
	ttls := make([]*goredis.DurationCmd, len(ids))
	_, err = b.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			gets[i] = p.Get(ctx, b.nodeKey(id))
			ttls[i] = p.PTTL(ctx, b.nodeKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("members: %w", err)
	}
	out := make([]liveMember, 0, len(ids))
	var gone []any
	for i, id := range ids {
		rec, err := gets[i].Bytes()
		if errors.Is(err, goredis.Nil) {
			gone = append(gone, id) // expired: its node died without leaving
			continue
		}
		m, err := decodeMember(rec)
		if err != nil || m.ID != id {
			continue
		}
		left := ttls[i].Val()
		if left < 0 { // expired between GET and PTTL, or no TTL at all
			left = 0
		}
		out = append(out, liveMember{Member: m, left: left})
	}
	if len(gone) > 0 {
		// A node re-joining meanwhile re-adds itself with its next
		// heartbeat, so removing it by mistake costs a heartbeat.
		if err := b.rdb.ZRem(ctx, b.prefix, gone...).Err(); err != nil {
			return out, fmt.Errorf("members: forget expired: %w", err)
		}
	}
	return out, nil
}

func (b *redisBackend) leave(ctx context.Context, id string) error {
	if err := leaveScript.Run(ctx, b.rdb, []string{b.nodeKey(id), b.prefix}, id, b.channel).Err(); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

func (b *redisBackend) subscribe(ctx context.Context, kick func()) (func(), error) {
	ps := b.rdb.Subscribe(ctx, b.channel)
	// Wait for the confirmation, so that no announcement after it is missed.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	msgs := ps.Channel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range msgs {
			kick()
		}
	})
	return func() {
		ps.Close() // closes msgs
		wg.Wait()
	}, nil
}

func (b *redisBackend) lookup(ctx context.Context, key string, ttl time.Duration) (string, time.Duration, error) {
	res, err := lookupScript.Run(ctx, b.rdb, []string{key}, ttl.Milliseconds()).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("owner lookup: %w", err)
	}
	return ownerReply(res)
}

func (b *redisBackend) claim(ctx context.Context, key, old, owner string, ttl time.Duration) (string, time.Duration, bool, error) {
	res, err := claimScript.Run(ctx, b.rdb, []string{key}, old, owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return "", 0, false, fmt.Errorf("owner claim: %w", err)
	}
	if len(res) != 3 {
		return "", 0, false, fmt.Errorf("owner claim: %d values", len(res))
	}
	won, left, err := ownerReply(res[:2])
	wrote, _ := res[2].(int64)
	return won, left, wrote == 1, err
}

// ownerReply reads the {owner, ms left} the owner scripts answer.
func ownerReply(res []any) (string, time.Duration, error) {
	if len(res) != 2 {
		return "", 0, fmt.Errorf("owner script: %d values", len(res))
	}
	owner, _ := res[0].(string)
	ms, _ := res[1].(int64)
	return owner, time.Duration(max(ms, 0)) * time.Millisecond, nil
}
