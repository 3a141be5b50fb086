package admission

import (
	"container/heap"
	"sync"
	"time"
)

// fakeClock is a Clock on a time line that moves only when a test says so.
// Its timers fire synchronously inside Advance and Fire, in order of their
// time, with the clock set to that time, so what they decide happens at a
// known instant.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 11, 28, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{c: c, f: f, i: -1}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked(t, d)
	return t
}

func (c *fakeClock) armLocked(t *fakeTimer, d time.Duration) {
	c.seq++
	t.when, t.seq = c.now.Add(d), c.seq
	heap.Push(&c.timers, t)
}

// Advance moves the clock by d, firing every timer due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for c.fireBefore(end, true) {
	}
	c.mu.Lock()
	c.now = end
	c.mu.Unlock()
}

// Fire moves the clock to the earliest timer and fires it; it reports
// false when no timer is armed.
func (c *fakeClock) Fire() bool { return c.fireBefore(time.Time{}, false) }

// fireBefore fires the earliest timer if any is due by end (any at all when
// bounded is false), with the clock set to its time. The function runs
// without the clock's lock: it may read the clock and arm timers.
func (c *fakeClock) fireBefore(end time.Time, bounded bool) bool {
	c.mu.Lock()
	if len(c.timers) == 0 || bounded && c.timers[0].when.After(end) {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(&c.timers).(*fakeTimer)
	if t.when.After(c.now) {
		c.now = t.when
	}
	c.mu.Unlock()
	t.f()
	return true
}

// Next returns the time of the earliest armed timer; ok is false when none
// is armed.
func (c *fakeClock) Next() (t time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].when, true
}

// Pending is the number of armed timers.
func (c *fakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	c    *fakeClock
	f    func()
	when time.Time
	seq  uint64
	i    int // index in the heap; -1 when not armed
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.i < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.i)
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	armed := t.i >= 0
	if armed {
		heap.Remove(&t.c.timers, t.i)
	}
	t.c.armLocked(t, d)
	return armed
}

// timerHeap orders timers by time, then by arming order.
type timerHeap []*fakeTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.i = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.i = -1
	*h = old[:len(old)-1]
	return t
}
