package admission

// line is the waiting line: one FIFO bucket per priority present, kept in a
// slice ordered by priority. Tiers give a handful of priorities, so the
// slice is short and scanning it beats a heap; every other operation is
// O(1) on intrusive links. The zero value is an empty line. It is guarded by
// the Queue's lock.
type line struct {
	buckets []*bucket // non-empty buckets, ascending priority
	spare   []*bucket // emptied buckets kept for reuse
	n       int
}

// bucket holds the waiters of one priority in order of arrival.
type bucket struct {
	pri        int
	head, tail *waiter
	n          int
}

// push appends w to the bucket of its priority.
func (l *line) push(w *waiter) {
	b := l.bucketFor(w.pri)
	w.b, w.prev, w.next = b, b.tail, nil
	if b.tail == nil {
		b.head = w
	} else {
		b.tail.next = w
	}
	b.tail = w
	b.n++
	l.n++
}

// bucketFor returns the bucket of priority pri, inserting an empty one in
// its place when there is none. The scan starts at the top because the
// highest priorities are the ones that keep arriving while the line is
// full.
func (l *line) bucketFor(pri int) *bucket {
	i := len(l.buckets)
	for i > 0 && l.buckets[i-1].pri >= pri {
		if l.buckets[i-1].pri == pri {
			return l.buckets[i-1]
		}
		i--
	}
	var b *bucket
	if k := len(l.spare); k > 0 {
		b, l.spare = l.spare[k-1], l.spare[:k-1]
	} else {
		b = new(bucket)
	}
	b.pri = pri
	l.buckets = append(l.buckets, nil)
	copy(l.buckets[i+1:], l.buckets[i:])
	l.buckets[i] = b
	return b
}

// next returns the first waiter of the highest priority, or nil.
func (l *line) next() *waiter {
	if len(l.buckets) == 0 {
		return nil
	}
	return l.buckets[len(l.buckets)-1].head
}

// last returns the most recent waiter of the lowest priority, the one to
// shed first, or nil.
func (l *line) last() *waiter {
	if len(l.buckets) == 0 {
		return nil
	}
	return l.buckets[0].tail
}

// remove takes w, which must be in the line, out of it.
func (l *line) remove(w *waiter) {
	b := w.b
	if w.prev == nil {
		b.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		b.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.b, w.prev, w.next = nil, nil, nil
	b.n--
	l.n--
	if b.n == 0 {
		l.drop(b)
	}
}

// drop removes the empty bucket b from the slice and keeps it for reuse.
func (l *line) drop(b *bucket) {
	for i := len(l.buckets) - 1; i >= 0; i-- {
		if l.buckets[i] == b {
			copy(l.buckets[i:], l.buckets[i+1:])
			l.buckets[len(l.buckets)-1] = nil
			l.buckets = l.buckets[:len(l.buckets)-1]
			break
		}
	}
	b.head, b.tail = nil, nil
	l.spare = append(l.spare, b)
}

// atLeast counts the waiters of priority pri or higher.
func (l *line) atLeast(pri int) int {
	n := 0
	for i := len(l.buckets) - 1; i >= 0 && l.buckets[i].pri >= pri; i-- {
		n += l.buckets[i].n
	}
	return n
}
