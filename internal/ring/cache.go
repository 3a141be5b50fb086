package ring

import "sync"

const cacheShards = 64

// ownerCache remembers session owners for a while so that most turns cost
// no Redis round trip. It is sharded by key hash: no lock is shared by all
// requests. A full shard forgets an entry picked at random.
type ownerCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string]cacheEntry
	_  [40]byte // keep shards' locks off each other's cache lines
}

type cacheEntry struct {
	owner string
	until int64 // Unix ns after which the entry is not used
}

// newOwnerCache returns a cache of about size entries, or nil for size < 0.
func newOwnerCache(size int) *ownerCache {
	if size < 0 {
		return nil
	}
	c := &ownerCache{perShard: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

// get returns the owner remembered for tag if it is still good at now.
func (c *ownerCache) get(tag []byte, h uint64, now int64) (string, bool) {
	if c == nil {
		return "", false
	}
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	e, ok := s.m[string(tag)]
	s.mu.Unlock()
	if !ok || now >= e.until {
		return "", false
	}
	return e.owner, true
}

// put remembers owner for tag until until.
func (c *ownerCache) put(tag string, h uint64, owner string, until int64) {
	if c == nil {
		return
	}
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if _, ok := s.m[tag]; !ok && len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[tag] = cacheEntry{owner: owner, until: until}
	s.mu.Unlock()
}

// drop forgets tag.
func (c *ownerCache) drop(tag []byte, h uint64) {
	if c == nil {
		return
	}
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	delete(s.m, string(tag))
	s.mu.Unlock()
}
