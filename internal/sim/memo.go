package sim

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// memo maps request bodies to their prepared answers. A reply is a pure
// function of the body (and the sim's fixed configuration), and load tests
// and agents resend the same bodies, so a hit skips decoding, tokenising
// and deciding altogether. Entries keep a copy of their body and a hit
// compares it, so a hash collision can never serve a wrong answer.
//
// Each shard holds two generations of up to shardBytes (bodies and
// answers together, see entrySize); when the current one is full it
// becomes the old one, and hits in the old one are promoted. Bodies over
// memoMaxBody are not kept.
type memo struct {
	shards     [memoShards]memoShard
	shardBytes int // per generation per shard: Config.MemoBytes / (2 × memoShards)
}

const (
	memoShards  = 16
	memoMaxBody = 64 << 10
	// memoEntryOverhead approximates what an entry costs beside its body
	// and text: the prepared struct, map slot and string headers.
	memoEntryOverhead = 512
)

// entrySize is what e holds in memory, near enough to bound the memo.
func entrySize(e memoEntry) int {
	n := len(e.body) + memoEntryOverhead + 2*len(e.p.rep.content)
	for _, c := range e.p.rep.calls {
		n += len(c.ID) + len(c.Function.Name) + len(c.Function.Arguments)
	}
	return n
}

type memoEntry struct {
	body string
	p    *prepared
}

type memoShard struct {
	mu       sync.RWMutex
	cur, old map[uint64]memoEntry
	curBytes int
}

func (c *memo) shard(h uint64) *memoShard { return &c.shards[h%memoShards] }

// hash returns the key of body.
func (c *memo) hash(body []byte) uint64 { return xxhash.Sum64(body) }

// get returns the prepared answer for body, whose hash is h, or nil.
func (c *memo) get(h uint64, body []byte) *prepared {
	if len(body) > memoMaxBody {
		return nil
	}
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.cur[h]
	inOld := false
	if !ok {
		e, ok = s.old[h]
		inOld = ok
	}
	s.mu.RUnlock()
	if !ok || e.body != string(body) {
		return nil
	}
	if inOld {
		s.mu.Lock()
		s.insert(h, e, c.shardBytes)
		s.mu.Unlock()
	}
	return e.p
}

// put remembers p as the answer to body, whose hash is h.
func (c *memo) put(h uint64, body string, p *prepared) {
	if len(body) > memoMaxBody {
		return
	}
	s := c.shard(h)
	s.mu.Lock()
	s.insert(h, memoEntry{body: body, p: p}, c.shardBytes)
	s.mu.Unlock()
}

func (s *memoShard) insert(h uint64, e memoEntry, limit int) {
	size := entrySize(e)
	if s.cur == nil || s.curBytes+size > limit {
		s.old = s.cur
		s.cur = make(map[uint64]memoEntry)
		s.curBytes = 0
	}
	if _, dup := s.cur[h]; !dup {
		s.curBytes += size
	}
	s.cur[h] = e
}
