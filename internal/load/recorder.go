package load

import (
	"fmt"
	"io"
	"math"
	"slices"
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

	// maxLabels bounds the distinct scenario labels of a report, each with
	// two histograms; the labels past it are counted under LabelOther.
	maxLabels = 64
	// maxReasons bounds the distinct degraded reasons of a label; the
	// reasons past it are counted under LabelOther.
	maxReasons = 16
)

// Report.Labels keys that no scenario chose.
const (
	// LabelDefault stands for the empty label.
	LabelDefault = "default"
	// LabelOther collects the labels (and degraded reasons) beyond the
	// first 64 (16) seen.
	LabelOther = "other"
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
	canceled bool   // the run was cancelled while it was in flight
	status   int    // HTTP status of a non-2xx answer, else 0
	class    string // error class when neither ok, canceled nor status
	// latency runs from the (scheduled) start to the last byte or, for a
	// failure, to the moment it was seen (a timeout: when it was cut); 0
	// when canceled.
	latency time.Duration
	ttft    time.Duration // from the same start to the first content; 0 if none
	// degraded is the reason of an ok answer marked degraded, else "".
	degraded string
	// retryAfter is a 429's Retry-After, -1 when it had none or an invalid
	// one; 0 for other outcomes.
	retryAfter time.Duration

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

// sample is one measured outcome, kept until the collector adds it to its
// label's and key's statistics.
type sample struct {
	label string
	key   int // index into Config.Keys; -1 without keys
	o     outcome
}

// shard is one slice of the recorder. Workers are spread over shards so that
// recording takes a lock that is almost never contended: the only other
// party is the collector, once per interval. Must not be copied.
type shard struct {
	mu sync.Mutex
	// Per-interval state, swapped out or zeroed by the collector.
	lat, ttft  *hdrhistogram.Histogram
	ok, failed int64
	// samples are the interval's outcomes for the per-label breakdown:
	// appending one costs a worker a copy, the map lookups and histograms
	// are the collector's.
	samples []sample
	// Cumulative state, read once at the end.
	canceled int64
	errs     map[string]int64
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

// record adds a measured outcome of a request of the scenario's label sent
// with key (an index into Config.Keys, or -1).
func (s *shard) record(label string, key int, o *outcome) {
	s.mu.Lock()
	s.samples = append(s.samples, sample{label: label, key: key, o: *o})
	switch {
	case o.ok:
		s.ok++
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
	shards     []shard
	keyLabels  []string  // per Config.Keys
	keyWeights []float64 // normalised, per Config.Keys

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
	spareSamples     []sample
	labels           map[string]*labelAgg
	keys             []*labelAgg // per Config.Keys
	degraded         int64
	intervalDegraded int64
}

func newRecorder(shards int, stream bool, keys []Key) *recorder {
	r := &recorder{
		shards:     make([]shard, min(max(shards, 1), maxShards)),
		keyLabels:  make([]string, len(keys)),
		keyWeights: normalizedWeights(keys),
		spare:      newHist(),
		interval:   newHist(),
		total:      newHist(),
		labels:     make(map[string]*labelAgg),
		keys:       make([]*labelAgg, len(keys)),
	}
	for i, k := range keys {
		r.keyLabels[i] = k.Label
		r.keys[i] = newLabelAgg()
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
		s.samples, r.spareSamples = r.spareSamples[:0], s.samples
		s.mu.Unlock()

		r.aggregate(r.spareSamples)

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
		At:       toSeconds(now.Sub(measureStart)),
		OK:       ok,
		Errors:   failed,
		Dropped:  dropped - r.lastDropped,
		Degraded: r.intervalDegraded,
		P50:      usToMs(v[0]),
		P99:      usToMs(v[1]),
	})
	r.lastDropped = dropped
	r.intervalDegraded = 0
	if r.interval.TotalCount() > 0 {
		r.total.Merge(r.interval)
		r.interval.Reset()
	}
}

// aggregate adds samples to their labels' and keys' statistics.
func (r *recorder) aggregate(samples []sample) {
	for i := range samples {
		sm := &samples[i]
		r.label(sm.label).add(&sm.o)
		if sm.key >= 0 && sm.key < len(r.keys) {
			r.keys[sm.key].add(&sm.o)
		}
		if sm.o.ok && sm.o.degraded != "" {
			r.intervalDegraded++
			r.degraded++
		}
	}
}

// label returns the statistics of a scenario label.
func (r *recorder) label(name string) *labelAgg {
	if a := r.labels[name]; a != nil {
		return a
	}
	if name == "" {
		name = LabelDefault
	} else if len(r.labels) >= maxLabels {
		name = LabelOther
	}
	a := r.labels[name]
	if a == nil {
		a = newLabelAgg()
		r.labels[name] = a
	}
	return a
}

// labelAgg gathers one label's (or key's) statistics in the collector.
type labelAgg struct {
	s         LabelStats // counts; Latency, Wait and RetryAfter come from below
	lat, wait dist
	// Retry-After of the 429s that had a valid one.
	retries                      int64
	retrySum, retryMin, retryMax time.Duration
}

func newLabelAgg() *labelAgg { return &labelAgg{lat: dist{h: newHist()}, wait: dist{h: newHist()}} }

// dist is a latency distribution whose sums are kept beside the histogram,
// so that its Percentiles need a single scan of the histogram rather than
// the five percentilesOf makes (a report may have dozens of labels).
type dist struct {
	h          *hdrhistogram.Histogram
	sum, sumSq float64 // of the recorded values, in µs
}

func (d *dist) record(l time.Duration) {
	us := micros(l)
	_ = d.h.RecordValue(us)
	f := float64(us)
	d.sum += f
	d.sumSq += f * f
}

var distQuantiles = append(slices.Clone(reportQuantiles), 100)

// percentiles are as percentilesOf's, but for Mean and StdDev, which are
// exact over the recorded values (clamped to the histogram's range).
func (d *dist) percentiles() Percentiles {
	n := d.h.TotalCount()
	if n == 0 {
		return Percentiles{}
	}
	v := d.h.ValueAtPercentilesSlice(distQuantiles)
	mean := d.sum / float64(n)
	return Percentiles{
		Count:  n,
		P50:    usToMs(v[0]),
		P90:    usToMs(v[1]),
		P95:    usToMs(v[2]),
		P99:    usToMs(v[3]),
		P999:   usToMs(v[4]),
		Max:    usToMs(v[5]),
		Mean:   mean / 1e3,
		StdDev: math.Sqrt(max(d.sumSq/float64(n)-mean*mean, 0)) / 1e3,
	}
}

func (a *labelAgg) add(o *outcome) {
	a.s.Requests++
	switch {
	case o.canceled:
		a.s.Canceled++
		return
	case o.ok:
		a.s.OK++
		a.lat.record(o.latency)
		if o.degraded != "" {
			a.s.Degraded++
			a.s.DegradedReasons = countCapped(a.s.DegradedReasons, o.degraded, maxReasons)
		}
	default:
		if a.s.Errors == nil {
			a.s.Errors = make(map[string]int64)
		}
		a.s.Errors[o.errorKey()]++
		switch {
		case o.status == 429:
			a.s.Rejected++
			a.addRetryAfter(o.retryAfter)
		case o.status >= 500 && o.status <= 599:
			a.s.ServerErrors++
		case o.class == ClassTimeout:
			a.s.Timeouts++
		}
	}
	a.wait.record(o.latency)
}

func (a *labelAgg) addRetryAfter(d time.Duration) {
	if d < 0 {
		a.s.RetryAfterMissing++
		return
	}
	if a.retries == 0 || d < a.retryMin {
		a.retryMin = d
	}
	a.retryMax = max(a.retryMax, d)
	a.retrySum += d
	a.retries++
}

// stats returns the label's statistics with their percentiles.
func (a *labelAgg) stats() LabelStats {
	s := a.s
	if s.Errors == nil {
		s.Errors = make(map[string]int64)
	}
	s.Latency = a.lat.percentiles()
	s.Wait = a.wait.percentiles()
	if a.retries > 0 {
		s.RetryAfter = &RetryAfterStats{
			Count: a.retries,
			Min:   toSeconds(a.retryMin),
			Max:   toSeconds(a.retryMax),
			Mean:  toSeconds(a.retrySum / time.Duration(a.retries)),
		}
	}
	return s
}

// countCapped adds one to m[k], or to m[LabelOther] when m already holds
// limit keys and not k, and returns m, made when nil.
func countCapped(m map[string]int64, k string, limit int) map[string]int64 {
	if m == nil {
		m = make(map[string]int64)
	}
	if _, ok := m[k]; !ok && len(m) >= limit {
		k = LabelOther
	}
	m[k]++
	return m
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
	degraded := ""
	if r.degraded > 0 {
		degraded = fmt.Sprintf("  degraded %d", r.degraded)
	}
	v := r.total.ValueAtPercentilesSlice([]float64{50, 99})
	line := fmt.Sprintf("%6.0fs%s  sent %d  ok %d%s  errors %d%s  rps %.0f  in-flight %d  p50 %.3fms  p99 %.3fms",
		elapsed.Seconds(), phase, r.sent.Load(), r.ok, degraded, r.failed, dropped, rps, r.inflight.Load(),
		usToMs(v[0]), usToMs(v[1]))
	// Pad to the longest line so far so that no tail of it stays visible.
	r.progressWidth = max(r.progressWidth, len(line))
	fmt.Fprintf(w, "\r%-*s", r.progressWidth, line)
}

// fill copies the totals into rep. Workers must have stopped.
func (r *recorder) fill(rep *Report) {
	rep.Errors = make(map[string]int64)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		rep.Canceled += s.canceled
		for k, v := range s.errs {
			rep.Errors[k] += v
		}
		// The last flush took every sample; only a caller that records
		// without flushing (tests) leaves any.
		r.aggregate(s.samples)
		s.samples = s.samples[:0]
		s.mu.Unlock()
	}
	if len(r.labels) > 0 {
		rep.Labels = make(map[string]LabelStats, len(r.labels))
		for k, a := range r.labels {
			rep.Labels[k] = a.stats()
		}
	}
	rep.Keys = r.keyStats()
	rep.Degraded = r.degraded
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

// keyStats returns the statistics of each key by label, nil without keys.
func (r *recorder) keyStats() map[string]LabelStats {
	if len(r.keys) == 0 {
		return nil
	}
	m := make(map[string]LabelStats, len(r.keys))
	for i, a := range r.keys {
		s := a.stats()
		s.Weight = r.keyWeights[i]
		m[r.keyLabels[i]] = s
	}
	return m
}
