package tokenizer

import (
	"hash/maphash"
	"sync"
)

// Cache geometry: 64 shards of two generations of up to 512 entries each,
// so at most 64 Ki counts (about 2 MB) per encoding.
const (
	cacheShards   = 64
	cacheShardCap = 512
)

// cache maps the hash of a text to its token count. It keys on a 64-bit
// seeded hash rather than the text, so cached prompts are not kept alive and
// an entry costs a few bytes; two different texts colliding is a 2^-64 event
// per pair with a seed the process picks at random.
//
// Each shard keeps two generations: lookups that hit the old generation
// promote the entry, and when the current one is full it becomes the old
// one. That evicts what was not used for a whole generation (an LRU
// approximation) without per-hit bookkeeping.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]shard
}

type shard struct {
	mu  sync.RWMutex
	cur map[uint64]int32
	old map[uint64]int32
	_   [24]byte // keep neighbouring shards' locks off one cache line
}

func (c *cache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].cur = make(map[uint64]int32, cacheShardCap)
	}
}

func (c *cache) hash(s string) uint64 { return maphash.String(c.seed, s) }

func (c *cache) get(h uint64) (int, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	n, ok := s.cur[h]
	if ok {
		s.mu.RUnlock()
		return int(n), true
	}
	n, ok = s.old[h]
	s.mu.RUnlock()
	if ok {
		s.mu.Lock()
		s.insert(h, n)
		s.mu.Unlock()
	}
	return int(n), ok
}

func (c *cache) put(h uint64, n int) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	s.insert(h, int32(n))
	s.mu.Unlock()
}

// insert adds an entry to the current generation, rotating first when it is
// full. The caller holds the write lock.
func (s *shard) insert(h uint64, n int32) {
	if len(s.cur) >= cacheShardCap {
		s.old = s.cur
		s.cur = make(map[uint64]int32, cacheShardCap)
	}
	s.cur[h] = n
}

// len returns the number of cached entries, for tests.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.cur) + len(s.old)
		s.mu.RUnlock()
	}
	return n
}
