package sim

import (
	"sync/atomic"
	"time"
)

const windowSeconds = 60

// window counts use over a sliding minute in per-second buckets. Each
// bucket packs its second (high 32 bits) and count (low 32 bits) into one
// word, so taking and reading are lock-free: no mutex on the request path.
// A zero limit means unlimited.
type window struct {
	limit   int64
	buckets [windowSeconds]atomic.Uint64
}

func pack(sec int64, n uint64) uint64 { return uint64(sec)<<32 | n&0xffffffff }
func unpack(v uint64) (int64, uint64) { return int64(v >> 32), v & 0xffffffff }

// add adds n (possibly negative) to the bucket of second sec.
func (w *window) add(sec int64, n int64) {
	b := &w.buckets[sec%windowSeconds]
	for {
		old := b.Load()
		bs, cnt := unpack(old)
		var next uint64
		switch {
		case bs == sec:
			next = pack(sec, uint64(max(0, int64(cnt)+n)))
		case n < 0:
			return // the bucket moved on; nothing of ours is left in it
		default:
			next = pack(sec, uint64(n))
		}
		if b.CompareAndSwap(old, next) {
			return
		}
	}
}

// used returns the count of the minute ending at second sec.
func (w *window) used(sec int64) int64 {
	var n int64
	for i := range w.buckets {
		bs, cnt := unpack(w.buckets[i].Load())
		if bs > sec-windowSeconds && bs <= sec {
			n += int64(cnt)
		}
	}
	return n
}

// take tries to take n. On success the use is recorded; on failure nothing
// is (concurrent takers may both fail near the limit, never both succeed
// past it by more than their own amounts).
func (w *window) take(now time.Time, n int64) bool {
	if w.limit == 0 {
		return true
	}
	sec := now.Unix()
	w.add(sec, n)
	if w.used(sec) > w.limit {
		w.add(sec, -n)
		return false
	}
	return true
}

// wait returns how long until n more fit in the window.
func (w *window) wait(now time.Time, n int64) time.Duration {
	sec := now.Unix()
	excess := w.used(sec) + n - w.limit
	if excess <= 0 {
		return 0
	}
	var freed int64
	for s := sec - windowSeconds + 1; s <= sec; s++ {
		bs, cnt := unpack(w.buckets[s%windowSeconds].Load())
		if bs != s {
			continue
		}
		freed += int64(cnt)
		if freed >= excess {
			return time.Unix(s+windowSeconds, 0).Sub(now)
		}
	}
	return time.Unix(sec+windowSeconds, 0).Sub(now)
}

// reset returns how long until the window is empty again, as OpenAI's
// x-ratelimit-reset-* headers report.
func (w *window) reset(now time.Time) time.Duration {
	sec := now.Unix()
	for s := sec; s > sec-windowSeconds; s-- {
		bs, cnt := unpack(w.buckets[s%windowSeconds].Load())
		if bs == s && cnt > 0 {
			return time.Unix(s+windowSeconds, 0).Sub(now)
		}
	}
	return 0
}

func (w *window) remaining(now time.Time) int64 {
	return max(0, w.limit-w.used(now.Unix()))
}
