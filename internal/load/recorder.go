package load

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 60 s at 3 significant figures, recorded in µs.
const (
	histLowest  = 1
	histHighest = int64(60 * time.Second / time.Microsecond)
	histDigits  = 3

	// maxShards bounds the recorder's memory (one 140 KB histogram per shard
	// and kind); 32 shards on two to a few dozen cores keep the chance that
	// two workers record into the same shard at the same instant small.
	maxShards = 32
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histLowest, histHighest, histDigits) }

// micros converts d to the histogram's unit, clamped to its range.
func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return min(max(us, histLowest), histHighest)
}

// outcome is how one request ended.
type outcome struct {
	ok       bool
	canceled bool          // the run was cancelled while it was in flight
	status   int           // HTTP status of a non-2xx answer, else 0
	class    string        // error class when neither ok, canceled nor status
	latency  time.Duration // from the (scheduled) start to the last byte
	ttft     time.Duration // from the same start to the first content; 0 if none

	err error // while a failure is being classified; class is the fallback
}

// errorKey is the Report.Errors key of a failed outcome.
func (o *outcome) errorKey() string {
	if o.status != 0 {
		if o.status > 0 && o.status < len(statusKeys) {
			return statusKeys[o.status]
		}
		return strconv.Itoa(o.status)
	}
	return o.class
}

// statusKeys holds the Errors keys of the HTTP status codes so that counting
// an error does not format a number.
var statusKeys = func() (k [600]string) {
	for i := 100; i < len(k); i++ {
		k[i] = strconv.Itoa(i)
	}
	return k
}()

// shard is one slice of the recorder. Workers are spread over shards so that
// recording takes a lock that is almost never contended: the only other
// party is the collector, once per interval. Must not be copied.
type shard struct {
	mu sync.Mutex
	// Per-interval state, swapped out or zeroed by the collector.
	lat, ttft  *hdrhistogram.Histogram
	ok, failed int64
	// Cumulative state, read once at the end.
	canceled int64
	errs     map[string]int64
	labels   map[string]*LabelStats
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

func (s *shard) record(label string, o *outcome) {
	s.mu.Lock()
	ls := s.labels[label]
	if ls == nil {
		ls = &LabelStats{}
		s.labels[label] = ls
	}
	ls.Requests++
	switch {
	case o.ok:
		s.ok++
		ls.OK++
		_ = s.lat.RecordValue(micros(o.latency))
		if s.ttft != nil && o.ttft > 0 {
			_ = s.ttft.RecordValue(micros(o.ttft))
		}
	case o.canceled:
		s.canceled++
	default:
		s.failed++
		s.errs[o.errorKey()]++
	}
	s.mu.Unlock()
}

// recorder aggregates outcomes. Workers call shard(i).record; the collector
// goroutine alone calls flush and progress, and fill once workers have
// stopped.
type recorder struct {
	shards []shard

	sent     atomic.Int64 // measured starts
	inflight atomic.Int64 // requests sent and not finished, warmup included
	dropped  atomic.Int64 // measured starts not sent for MaxInFlight

	// Collector-owned.
	spare, spareTTFT *hdrhistogram.Histogram
	interval         *hdrhistogram.Histogram
	total, totalTTFT *hdrhistogram.Histogram
	ok, failed       int64
	lastDropped      int64
	timeline         []Second
	progressWidth    int
}

func newRecorder(shards int, stream bool) *recorder {
	r := &recorder{
		shards:   make([]shard, min(max(shards, 1), maxShards)),
		spare:    newHist(),
		interval: newHist(),
		total:    newHist(),
	}
	if stream {
		r.spareTTFT, r.totalTTFT = newHist(), newHist()
	}
	for i := range r.shards {
		s := &r.shards[i]
		s.lat = newHist()
		if stream {
			s.ttft = newHist()
		}
		s.errs = make(map[string]int64)
		s.labels = make(map[string]*LabelStats)
	}
	return r
}

func (r *recorder) shard(worker int) *shard { return &r.shards[worker%len(r.shards)] }

// flush moves every shard's interval state into the totals and, when the
// interval lies in the measured window, appends a Timeline entry ending at
// now. Each shard's lock is held only for a pointer swap.
func (r *recorder) flush(now, measureStart time.Time) {
	if now.Before(measureStart) {
		// Nothing measured can have been recorded yet; anything recorded
		// between reading now and the swaps waits for the next flush.
		return
	}
	var ok, failed int64
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		s.lat, r.spare = r.spare, s.lat
		if s.ttft != nil {
			s.ttft, r.spareTTFT = r.spareTTFT, s.ttft
		}
		ok += s.ok
		failed += s.failed
		s.ok, s.failed = 0, 0
		s.mu.Unlock()

		if r.spare.TotalCount() > 0 {
			r.interval.Merge(r.spare)
			r.spare.Reset()
		}
		if r.spareTTFT != nil && r.spareTTFT.TotalCount() > 0 {
			r.totalTTFT.Merge(r.spareTTFT)
			r.spareTTFT.Reset()
		}
	}
	r.ok += ok
	r.failed += failed
	dropped := r.dropped.Load()
	v := r.interval.ValueAtPercentilesSlice([]float64{50, 99})
	r.timeline = append(r.timeline, Second{
		At:      toSeconds(now.Sub(measureStart)),
		OK:      ok,
		Errors:  failed,
		Dropped: dropped - r.lastDropped,
		P50:     usToMs(v[0]),
		P99:     usToMs(v[1]),
	})
	r.lastDropped = dropped
	if r.interval.TotalCount() > 0 {
		r.total.Merge(r.interval)
		r.interval.Reset()
	}
}

// progress writes one progress line over the previous one. The rate is of
// the last interval, the percentiles of the whole run so far.
func (r *recorder) progress(w io.Writer, elapsed, since time.Duration, intervalOK int64, warmup bool) {
	phase := ""
	if warmup {
		phase = " warmup"
	}
	rps := 0.0
	if since > 0 {
		rps = float64(intervalOK) / since.Seconds()
	}
	dropped := ""
	if n := r.dropped.Load(); n > 0 {
		dropped = fmt.Sprintf("  dropped %d", n)
	}
	v := r.total.ValueAtPercentilesSlice([]float64{50, 99})
	line := fmt.Sprintf("%6.0fs%s  sent %d  ok %d  errors %d%s  rps %.0f  in-flight %d  p50 %.3fms  p99 %.3fms",
		elapsed.Seconds(), phase, r.sent.Load(), r.ok, r.failed, dropped, rps, r.inflight.Load(),
		usToMs(v[0]), usToMs(v[1]))
	// Pad to the longest line so far so that no tail of it stays visible.
	r.progressWidth = max(r.progressWidth, len(line))
	fmt.Fprintf(w, "\r%-*s", r.progressWidth, line)
}

// fill copies the totals into rep. Workers must have stopped.
func (r *recorder) fill(rep *Report) {
	rep.Errors = make(map[string]int64)
	labels := make(map[string]LabelStats)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		rep.Canceled += s.canceled
		for k, v := range s.errs {
			rep.Errors[k] += v
		}
		for k, v := range s.labels {
			if k == "" {
				k = "default"
			}
			l := labels[k]
			l.Requests += v.Requests
			l.OK += v.OK
			labels[k] = l
		}
		s.mu.Unlock()
	}
	if len(labels) > 0 {
		rep.Labels = labels
	}
	rep.OK = r.ok
	rep.Requests = r.ok + r.failed + rep.Canceled
	rep.Dropped = r.dropped.Load()
	rep.Latency = percentilesOf(r.total)
	if r.totalTTFT != nil {
		p := percentilesOf(r.totalTTFT)
		rep.TTFT = &p
	}
	rep.Timeline = r.timeline
	if rep.Timeline == nil {
		rep.Timeline = []Second{}
	}
}
