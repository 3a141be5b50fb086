package router

import "sync/atomic"

// budgetBuckets is the number of buckets the budget window is split into;
// the window slides one bucket at a time.
const budgetBuckets = 10

// retryBudget is a Finagle-style retry budget over a sliding window of
// atomic buckets: retries in the window ≤ minPerWindow + ratio × requests
// in the window. Requests and retries from many goroutines update it
// without a lock; a bucket being recycled may lose a concurrent count or
// two, which a budget can afford. It must not be copied.
type retryBudget struct {
	ratio        float64
	minPerWindow float64
	width        int64 // bucket width, ns
	buckets      [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	epoch   atomic.Int64 // window slot number: now / width
	reqs    atomic.Int64
	retries atomic.Int64
}

func (rb *retryBudget) init(b RetryBudget) {
	rb.ratio = b.Ratio
	rb.minPerWindow = b.MinPerSecond * b.Window.Seconds()
	rb.width = max(int64(b.Window)/budgetBuckets, 1)
}

// bucket returns the bucket of time now, recycling it if it holds an older
// slot. A caller with a slightly stale now counts into the newer slot.
func (rb *retryBudget) bucket(now int64) *budgetBucket {
	ep := now / rb.width
	b := &rb.buckets[ep%budgetBuckets]
	if e := b.epoch.Load(); e < ep && b.epoch.CompareAndSwap(e, ep) {
		b.reqs.Store(0)
		b.retries.Store(0)
	}
	return b
}

// request counts a request arriving at now.
func (rb *retryBudget) request(now int64) {
	rb.bucket(now).reqs.Add(1)
}

// retry reports whether a retry at now fits the budget, and if so counts it.
func (rb *retryBudget) retry(now int64) bool {
	cur := now / rb.width
	var reqs, retries int64
	for i := range rb.buckets {
		b := &rb.buckets[i]
		if e := b.epoch.Load(); e > cur-budgetBuckets && e <= cur {
			reqs += b.reqs.Load()
			retries += b.retries.Load()
		}
	}
	if float64(retries+1) > rb.minPerWindow+rb.ratio*float64(reqs) {
		return false
	}
	rb.bucket(now).retries.Add(1)
	return true
}
