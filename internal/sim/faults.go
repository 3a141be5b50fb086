package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Outage modes.
const (
	OutageMode503   = "503"   // every request gets an OpenAI-shaped 503 at once
	OutageModeReset = "reset" // every connection is aborted with no response
)

// Faults are injected failures. The zero value injects nothing. In JSON
// (POST /sim/faults) durations are strings such as "200ms" or "2m", and
// unknown keys are an error.
type Faults struct {
	// Model limits the faults to one model (by name or alias); "" means all.
	Model string
	// Latency is added to every call, before the first byte.
	Latency time.Duration
	// SpikeRate is the fraction of calls that get SpikeLatency more.
	SpikeRate    float64
	SpikeLatency time.Duration
	// ErrorRate is the fraction of calls answered with ErrorStatus (500 or
	// 503; 0 means 500) in OpenAI's error shape.
	ErrorRate   float64
	ErrorStatus int
	// HangRate is the fraction of calls that never send a byte: the request
	// is held until the client gives up.
	HangRate float64
	// CutRate is the fraction of calls whose connection is aborted: streams
	// after some chunks, other calls before any response.
	CutRate float64
	// Outage makes every call fail for this long from the moment the faults
	// are set, as OutageMode says: "503" (the default) or "reset". Starting
	// a reset outage also cuts the streams in flight.
	Outage     time.Duration
	OutageMode string
}

// faultsJSON is Faults on the wire.
type faultsJSON struct {
	Model           string  `json:"model"`
	Latency         string  `json:"latency,omitempty"`
	SpikeRate       float64 `json:"spike_rate,omitempty"`
	SpikeLatency    string  `json:"spike_latency,omitempty"`
	ErrorRate       float64 `json:"error_rate,omitempty"`
	ErrorStatus     int     `json:"error_status,omitempty"`
	HangRate        float64 `json:"hang_rate,omitempty"`
	CutRate         float64 `json:"cut_rate,omitempty"`
	Outage          string  `json:"outage,omitempty"`
	OutageMode      string  `json:"outage_mode,omitempty"`
	OutageRemaining string  `json:"outage_remaining,omitempty"`
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// MarshalJSON writes durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(f.wire())
}

func (f Faults) wire() faultsJSON {
	return faultsJSON{
		Model: f.Model, Latency: durString(f.Latency), SpikeRate: f.SpikeRate,
		SpikeLatency: durString(f.SpikeLatency), ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		HangRate: f.HangRate, CutRate: f.CutRate, Outage: durString(f.Outage), OutageMode: f.OutageMode,
	}
}

// UnmarshalJSON reads durations as strings ("200ms") and rejects unknown
// keys.
func (f *Faults) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w faultsJSON
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if w.OutageRemaining != "" {
		return errors.New("outage_remaining is read-only")
	}
	out := Faults{Model: w.Model, SpikeRate: w.SpikeRate, ErrorRate: w.ErrorRate, ErrorStatus: w.ErrorStatus,
		HangRate: w.HangRate, CutRate: w.CutRate, OutageMode: w.OutageMode}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"latency", w.Latency, &out.Latency}, {"spike_latency", w.SpikeLatency, &out.SpikeLatency}, {"outage", w.Outage, &out.Outage}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		*d.dst = v
	}
	*f = out
	return nil
}

// ErrFaults is wrapped by the errors SetFaults returns for invalid faults.
var ErrFaults = errors.New("sim: invalid faults")

// normalize validates f and fills defaults.
func (f Faults) normalize(s *Sim) (Faults, error) {
	for _, p := range []struct {
		name string
		v    float64
	}{{"spike_rate", f.SpikeRate}, {"error_rate", f.ErrorRate}, {"hang_rate", f.HangRate}, {"cut_rate", f.CutRate}} {
		if !(p.v >= 0 && p.v <= 1) {
			return f, fmt.Errorf("%w: %s %v not in [0,1]", ErrFaults, p.name, p.v)
		}
	}
	if f.Latency < 0 || f.SpikeLatency < 0 || f.Outage < 0 {
		return f, fmt.Errorf("%w: negative duration", ErrFaults)
	}
	switch f.ErrorStatus {
	case 0:
		f.ErrorStatus = http.StatusInternalServerError
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return f, fmt.Errorf("%w: error_status %d (want 500, 502, 503 or 504)", ErrFaults, f.ErrorStatus)
	}
	switch f.OutageMode {
	case "":
		f.OutageMode = OutageMode503
	case OutageMode503, OutageModeReset:
	default:
		return f, fmt.Errorf("%w: outage_mode %q (want %q or %q)", ErrFaults, f.OutageMode, OutageMode503, OutageModeReset)
	}
	if f.Model != "" {
		m := s.byName[f.Model]
		if m == nil {
			return f, fmt.Errorf("%w: unknown model %q", ErrFaults, f.Model)
		}
		f.Model = m.Name
	}
	return f, nil
}

// faultState is the faults in force; replaced whole, read with one atomic
// load per request.
type faultState struct {
	f           Faults
	model       *model // nil: all models
	outageUntil time.Time
}

func (st *faultState) appliesTo(m *model) bool {
	return st != nil && (st.model == nil || st.model == m)
}

func (st *faultState) outage(now time.Time) bool {
	return st.f.Outage > 0 && now.Before(st.outageUntil)
}

// SetFaults replaces the faults in force. An Outage runs from now; a reset
// outage also cuts the requests in flight (for the faults' model, or all).
// The fault PRNG restarts, so a sequence of requests after SetFaults meets
// the same faults every time. It is safe for concurrent use.
func (s *Sim) SetFaults(f Faults) error {
	f, err := f.normalize(s)
	if err != nil {
		return err
	}
	st := &faultState{f: f}
	if f.Model != "" {
		st.model = s.byName[f.Model]
	}
	if f.Outage > 0 {
		st.outageUntil = s.clock.Now().Add(f.Outage)
	}
	s.faultSeq.Store(0)
	s.faults.Store(st)
	if f.Outage > 0 && f.OutageMode == OutageModeReset {
		for _, m := range s.models {
			if st.appliesTo(m) {
				m.cutInFlight()
			}
		}
	}
	return nil
}

// Faults returns the faults in force, with defaults filled in.
func (s *Sim) Faults() Faults {
	if st := s.faults.Load(); st != nil {
		return st.f
	}
	return Faults{}
}

// OutageRemaining returns how long the current outage lasts, or 0.
func (s *Sim) OutageRemaining() time.Duration {
	st := s.faults.Load()
	if st == nil || st.f.Outage == 0 {
		return 0
	}
	return max(0, st.outageUntil.Sub(s.clock.Now()))
}

// ClearFaults removes all faults, ending any outage.
func (s *Sim) ClearFaults() { s.faults.Store(nil) }

// faultDecision is what the faults do to one request.
type faultDecision struct {
	delay    time.Duration // latency plus spike, before scaling
	status   int           // error status to answer with, or 0
	hang     bool
	cut      bool
	cutFrac  float64 // where in the stream to cut, in (0,1)
	reset    bool    // outage in reset mode
	outage   bool    // outage in 503 mode
	observed bool    // any fault applied
}

// decideFaults draws the request's faults from the fault PRNG: the n-th
// request since SetFaults (or New) always gets the same draws.
func (s *Sim) decideFaults(m *model, now time.Time) faultDecision {
	st := s.faults.Load()
	if !st.appliesTo(m) {
		return faultDecision{}
	}
	seq := s.faultSeq.Add(1)
	r := newRNG(s.faultSeed^mix(seq), saltFault)
	var d faultDecision
	f := &st.f
	if st.outage(now) {
		d.observed = true
		if f.OutageMode == OutageModeReset {
			d.reset = true
		} else {
			d.outage = true
		}
		return d
	}
	// Draw every number, used or not, so that one rate's change does not
	// shift the others' decisions.
	spike, fail, hang, cut, frac := r.float64(), r.float64(), r.float64(), r.float64(), r.float64()
	d.delay = f.Latency
	if spike < f.SpikeRate {
		d.delay += f.SpikeLatency
	}
	switch {
	case hang < f.HangRate:
		d.hang = true
	case fail < f.ErrorRate:
		d.status = f.ErrorStatus
	case cut < f.CutRate:
		d.cut = true
		d.cutFrac = 0.1 + 0.8*frac
	}
	d.observed = d.delay > 0 || d.hang || d.status != 0 || d.cut
	return d
}

func (s *Sim) handleFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost, http.MethodPut:
		var f Faults
		body := http.MaxBytesReader(w, r.Body, 1<<16)
		dec := json.NewDecoder(body)
		if err := dec.Decode(&f); err != nil {
			s.writeError(w, invalidBody("faults: "+err.Error()))
			return
		}
		if err := s.SetFaults(f); err != nil {
			s.writeError(w, invalidBody(err.Error()))
			return
		}
	case http.MethodDelete:
		s.ClearFaults()
	default:
		s.writeError(w, methodNotAllowed(r))
		return
	}
	wf := s.Faults().wire()
	wf.OutageRemaining = s.OutageRemaining().String()
	writeJSON(w, http.StatusOK, wf)
}
