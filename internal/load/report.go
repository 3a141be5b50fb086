package load

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Error classes counted in Report.Errors next to HTTP status codes.
const (
	ClassConnect     = "connect"      // no connection could be made
	ClassTimeout     = "timeout"      // Config.Timeout passed before the last byte
	ClassReset       = "reset"        // the connection broke before a complete answer
	ClassStreamError = "stream_error" // a stream sent an error event or ended without [DONE]
	ClassBadResponse = "bad_response" // a 2xx answer that is not a completion, or malformed HTTP
	ClassRunFailed   = "run_failed"   // a 2xx answer whose run status is "failed"
	ClassTransport   = "transport"    // any other client-side failure
)

// Seconds is a duration in seconds, as it appears in reports.
type Seconds float64

// Duration converts s to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

func toSeconds(d time.Duration) Seconds { return Seconds(d.Seconds()) }

// Percentiles summarise a latency distribution, in milliseconds. They come
// from an HDR histogram covering 1 µs to 60 s with 3 significant figures, so
// each value is within 0.1 % of the exact one; longer latencies count as 60 s.
type Percentiles struct {
	Count  int64   `json:"count"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

var reportQuantiles = []float64{50, 90, 95, 99, 99.9}

func percentilesOf(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	v := h.ValueAtPercentilesSlice(reportQuantiles)
	return Percentiles{
		Count:  h.TotalCount(),
		P50:    usToMs(v[0]),
		P90:    usToMs(v[1]),
		P95:    usToMs(v[2]),
		P99:    usToMs(v[3]),
		P999:   usToMs(v[4]),
		Max:    usToMs(h.Max()),
		Mean:   h.Mean() / 1e3,
		StdDev: h.StdDev() / 1e3,
	}
}

func usToMs(us int64) float64 { return float64(us) / 1e3 }

// Second is one Report.Timeline entry: what completed during one interval of
// Config.Interval (one second by default) of the measured window.
type Second struct {
	// At is the end of the interval, from the start of the measured window.
	At       Seconds `json:"t"`
	OK       int64   `json:"ok"`
	Degraded int64   `json:"degraded,omitempty"` // of OK
	Errors   int64   `json:"errors"`
	Dropped  int64   `json:"dropped,omitempty"`
	P50      float64 `json:"p50"` // ms, of the requests that succeeded in the interval
	P99      float64 `json:"p99"` // ms
}

// LabelStats breaks down the requests of one label: a Scenario label in
// Report.Labels, a key label (tenant or tier) in Report.Keys.
//
// Requests = OK + the sum of Errors + Canceled. Rejected, ServerErrors and
// Timeouts are parts of Errors pulled out for the questions an overload
// test asks; Degraded is part of OK.
type LabelStats struct {
	// Weight is a key's normalised share of the requests (Config.Keys); 0
	// for a scenario label.
	Weight   float64 `json:"weight,omitempty"`
	Requests int64   `json:"requests"`
	// OK counts complete 2xx answers, degraded ones included.
	OK int64 `json:"ok"`
	// Degraded counts the OK answers marked degraded: a non-empty
	// X-Floodgate-Degraded header, an X-Floodgate-Run-Status of
	// "degraded", or a non-streamed body whose run "status" is
	// "degraded". DegradedReasons counts them by the header's value
	// (ReasonRunStatus for the other two; at most 16 reasons, the rest
	// under "other").
	Degraded        int64            `json:"degraded"`
	DegradedReasons map[string]int64 `json:"degraded_reasons,omitempty"`
	// Rejected counts 429 answers (Errors["429"]); RetryAfter describes
	// the Retry-After they carried and RetryAfterMissing counts those
	// without a valid one.
	Rejected          int64            `json:"rejected"`
	RetryAfter        *RetryAfterStats `json:"retry_after,omitempty"`
	RetryAfterMissing int64            `json:"retry_after_missing,omitempty"`
	// ServerErrors counts 5xx answers.
	ServerErrors int64 `json:"server_errors"`
	// Timeouts counts requests cut by the client at Config.Timeout
	// (Errors["timeout"]): no answer at all, unlike a 504.
	Timeouts int64 `json:"timeouts"`
	Canceled int64 `json:"canceled,omitempty"`
	// Errors counts the failed requests as Report.Errors does. Never nil
	// in a report.
	Errors map[string]int64 `json:"errors"`
	// Latency covers the OK answers, degraded ones included, as
	// Report.Latency does.
	Latency Percentiles `json:"latency_ms"`
	// Wait covers every request that ended, however it ended (OK,
	// degraded, rejected, failed, or cut at the timeout): how long a
	// client of this label waited for whatever it got. Its max is what to
	// hold against a tier's deadline.
	Wait Percentiles `json:"wait_ms"`
}

// RetryAfterStats describes the Retry-After values of 429 answers, in
// seconds (an HTTP date is read as its distance from the answer; values
// are capped at a day).
type RetryAfterStats struct {
	Count int64   `json:"count"`
	Min   Seconds `json:"min_s"`
	Max   Seconds `json:"max_s"`
	Mean  Seconds `json:"mean_s"`
}

// Report is the result of one run. It is plain data, JSON-tagged, so that
// later tools (HTML report, chaos verdicts) read it back as written.
//
// Requests counts the requests started in the measured window; each ended as
// OK, as one entry of Errors, or (after a cancellation) as Canceled. Dropped
// open-loop starts were never sent and are not in Requests. Latency covers the
// successful requests, from the scheduled start in the open loop (see the
// package doc) and from the send in the closed loop.
type Report struct {
	Target      string  `json:"target"`
	Mode        string  `json:"mode"` // "open" or "closed"
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency"`
	Stream      bool    `json:"stream"`
	// Started is when the measured window began.
	Started time.Time `json:"started"`
	// Duration is the measured window: Config.Duration, or less when the run
	// was interrupted.
	Duration    Seconds `json:"duration_s"`
	Interrupted bool    `json:"interrupted,omitempty"`

	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	// Degraded counts the OK answers marked degraded (see LabelStats).
	Degraded int64 `json:"degraded"`
	Dropped  int64 `json:"dropped"`
	Canceled int64 `json:"canceled,omitempty"`
	// Errors counts failed requests by HTTP status ("429", "503") or by
	// class (ClassConnect, ClassTimeout, ...). Never nil.
	Errors map[string]int64 `json:"errors"`
	// Throughput is OK per second of Duration.
	Throughput float64 `json:"throughput"`

	Latency Percentiles  `json:"latency_ms"`
	TTFT    *Percentiles `json:"ttft_ms,omitempty"` // streams only

	// Labels breaks the requests down by Scenario label (LabelDefault for
	// the empty one; past 64 labels, the rest under LabelOther).
	Labels map[string]LabelStats `json:"labels,omitempty"`
	// Keys breaks the requests down by Config.Keys label; nil without
	// keys.
	Keys     map[string]LabelStats `json:"keys,omitempty"`
	Timeline []Second              `json:"timeline"`
}

// ErrorCount returns the sum of Errors.
func (r *Report) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// WriteJSON writes r as indented JSON followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	return writeJSON(w, r)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Summary returns a short human-readable table of r.
func (r *Report) Summary() string {
	var b strings.Builder
	mode := "closed loop, " + fmt.Sprint(r.Concurrency) + " workers"
	if r.Mode == "open" {
		mode = fmt.Sprintf("open loop, %g req/s", r.Rate)
	}
	stream := ""
	if r.Stream {
		stream = ", stream"
	}
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(&b, "target      %s (%s%s)\n", r.Target, mode, stream)
	fmt.Fprintf(&b, "duration    %.1fs%s\n", float64(r.Duration), interrupted)
	fmt.Fprintf(&b, "requests    %d   ok %d   degraded %d   errors %d   dropped %d", r.Requests, r.OK, r.Degraded, r.ErrorCount(), r.Dropped)
	if r.Canceled > 0 {
		fmt.Fprintf(&b, "   canceled %d", r.Canceled)
	}
	fmt.Fprintf(&b, "\nthroughput  %.1f ok/s\n", r.Throughput)
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = fmt.Sprintf("%s: %d", k, r.Errors[k])
		}
		fmt.Fprintf(&b, "errors      %s\n", strings.Join(keys, "  "))
	}
	b.WriteString("ms              p50      p90      p95      p99    p99.9      max     mean\n")
	writePercentiles(&b, "latency", r.Latency)
	if r.TTFT != nil {
		writePercentiles(&b, "ttft", *r.TTFT)
	}
	// One width for both tables, at least the one of the table above.
	width := 10
	for _, m := range []map[string]LabelStats{r.Keys, r.Labels} {
		for k := range m {
			width = max(width, len(k))
		}
	}
	writeLabels(&b, width, "key", r.Keys)
	writeLabels(&b, width, "label", r.Labels)
	return b.String()
}

// writeLabels writes one line per label, sorted: the counts, then the wait
// percentiles (every outcome; see LabelStats.Wait).
func writeLabels(b *strings.Builder, width int, kind string, m map[string]LabelStats) {
	if len(m) == 0 {
		return
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(b, "%-*s %8s %8s %8s %8s %8s %8s %8s | wait ms %9s %9s %9s %9s\n", width, kind,
		"requests", "ok", "degraded", "429", "5xx", "timeout", "other", "p50", "p90", "p99", "max")
	for _, k := range names {
		l := m[k]
		var errs int64
		for _, n := range l.Errors {
			errs += n
		}
		other := errs - l.Rejected - l.ServerErrors - l.Timeouts
		fmt.Fprintf(b, "%-*s %8d %8d %8d %8d %8d %8d %8d |         %9.3f %9.3f %9.3f %9.3f\n", width, k,
			l.Requests, l.OK, l.Degraded, l.Rejected, l.ServerErrors, l.Timeouts, other,
			l.Wait.P50, l.Wait.P90, l.Wait.P99, l.Wait.Max)
	}
}

func writePercentiles(b *strings.Builder, name string, p Percentiles) {
	fmt.Fprintf(b, "%-10s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n",
		name, p.P50, p.P90, p.P95, p.P99, p.P999, p.Max, p.Mean)
}

// Added is how much later the target answered than the baseline, per
// percentile, in milliseconds. A negative value means the target was faster
// at that percentile (measurement noise, for a proxy in front of the
// baseline).
type Added struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
}

// Comparison is the result of Compare: the same load against a baseline
// (e.g. the simulated provider directly) and against the target (e.g. the
// gateway in front of it), and the latency the target adds.
type Comparison struct {
	Baseline *Report `json:"baseline"`
	// Target is nil when the run was interrupted during the baseline.
	Target *Report `json:"target"`
	// Added compares successful requests' latency; for streams, AddedTTFT
	// compares time to first token.
	Added     Added  `json:"added_ms"`
	AddedTTFT *Added `json:"added_ttft_ms,omitempty"`
}

func addedBetween(base, target Percentiles) Added {
	return Added{
		P50:  target.P50 - base.P50,
		P90:  target.P90 - base.P90,
		P99:  target.P99 - base.P99,
		P999: target.P999 - base.P999,
	}
}

// WriteJSON writes c as indented JSON followed by a newline.
func (c *Comparison) WriteJSON(w io.Writer) error {
	return writeJSON(w, c)
}

// Summary returns both runs' tables and the added latency.
func (c *Comparison) Summary() string {
	var b strings.Builder
	b.WriteString("== baseline\n")
	b.WriteString(c.Baseline.Summary())
	if c.Target == nil {
		b.WriteString("== target not run (interrupted)\n")
		return b.String()
	}
	b.WriteString("== target\n")
	b.WriteString(c.Target.Summary())
	fmt.Fprintf(&b, "== added latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f\n",
		c.Added.P50, c.Added.P90, c.Added.P99, c.Added.P999)
	if c.AddedTTFT != nil {
		fmt.Fprintf(&b, "== added ttft ms     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f\n",
			c.AddedTTFT.P50, c.AddedTTFT.P90, c.AddedTTFT.P99, c.AddedTTFT.P999)
	}
	return b.String()
}
