package sim

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// outcome is how a request ended, the label of the status counters.
type outcome uint8

const (
	outOK outcome = iota
	out400
	out401
	out404
	out405
	out413
	out429
	out500
	out502
	out503
	out504
	outReset
	outCut
	outHang
	outCanceled
	numOutcomes
)

var outcomeLabels = [numOutcomes]string{
	outOK: "200", out400: "400", out401: "401", out404: "404", out405: "405", out413: "413", out429: "429",
	out500: "500", out502: "502", out503: "503", out504: "504",
	outReset: "reset", outCut: "cut", outHang: "hang", outCanceled: "canceled",
}

func statusOutcome(code int) outcome {
	switch code {
	case http.StatusOK:
		return outOK
	case http.StatusUnauthorized:
		return out401
	case http.StatusNotFound:
		return out404
	case http.StatusMethodNotAllowed:
		return out405
	case http.StatusRequestEntityTooLarge:
		return out413
	case http.StatusTooManyRequests:
		return out429
	case http.StatusInternalServerError:
		return out500
	case http.StatusBadGateway:
		return out502
	case http.StatusServiceUnavailable:
		return out503
	case http.StatusGatewayTimeout:
		return out504
	}
	return out400
}

// counters are one model's counters; all atomics, no lock.
type counters struct {
	requests         atomic.Int64
	outcomes         [numOutcomes]atomic.Int64
	toolCalls        atomic.Int64
	wanders          atomic.Int64
	promptTokens     atomic.Int64
	completionTokens atomic.Int64
}

func (c *counters) reset() {
	c.requests.Store(0)
	for i := range c.outcomes {
		c.outcomes[i].Store(0)
	}
	c.toolCalls.Store(0)
	c.wanders.Store(0)
	c.promptTokens.Store(0)
	c.completionTokens.Store(0)
}

func (c *counters) snapshot() ModelStats {
	ms := ModelStats{
		Requests:         c.requests.Load(),
		Status:           map[string]int64{},
		ToolCalls:        c.toolCalls.Load(),
		Wanders:          c.wanders.Load(),
		PromptTokens:     c.promptTokens.Load(),
		CompletionTokens: c.completionTokens.Load(),
	}
	for i := range c.outcomes {
		if n := c.outcomes[i].Load(); n > 0 {
			ms.Status[outcomeLabels[i]] = n
		}
	}
	return ms
}

// Stats are the sim's counters since New or ResetStats.
type Stats struct {
	// Requests counts every chat-completion request that reached the sim,
	// whatever it was answered with (faults included).
	Requests int64 `json:"requests"`
	// InFlight is the chat-completion requests being served now.
	InFlight int64 `json:"in_flight"`
	// ToolCalls and Wanders total the models' counters.
	ToolCalls int64 `json:"tool_calls"`
	Wanders   int64 `json:"wanders"`
	// Models holds the counters of each model by name.
	Models map[string]ModelStats `json:"models"`
	// Unattributed counts requests refused before a model was known
	// (bad JSON, bad key, unknown model, too large).
	Unattributed ModelStats `json:"unattributed"`
}

// ModelStats are one model's counters.
type ModelStats struct {
	Requests int64 `json:"requests"`
	// Status counts requests by how they ended: an HTTP status ("200",
	// "429", "503", …), or "reset" (connection aborted by an outage or cut
	// fault before a response), "cut" (stream aborted midway), "hang" (held
	// until the client gave up), "canceled" (client left during the answer).
	Status           map[string]int64 `json:"status"`
	ToolCalls        int64            `json:"tool_calls"`
	Wanders          int64            `json:"wanders"`
	PromptTokens     int64            `json:"prompt_tokens"`
	CompletionTokens int64            `json:"completion_tokens"`
}

// Stats returns a snapshot of the counters. It is safe for concurrent use;
// counters are read one by one, not as one atomic snapshot.
func (s *Sim) Stats() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		InFlight:     s.inFlight.Load(),
		Models:       make(map[string]ModelStats, len(s.models)),
		Unattributed: s.unattributed.snapshot(),
	}
	for _, m := range s.models {
		ms := m.stats.snapshot()
		st.ToolCalls += ms.ToolCalls
		st.Wanders += ms.Wanders
		st.Models[m.Name] = ms
	}
	return st
}

// ResetStats sets every counter but InFlight to zero.
func (s *Sim) ResetStats() {
	s.requests.Store(0)
	s.unattributed.reset()
	for _, m := range s.models {
		m.stats.reset()
	}
}

func (s *Sim) handleStats(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		s.ResetStats()
	default:
		s.writeError(w, methodNotAllowed(r))
		return
	}
	writeJSON(w, http.StatusOK, s.Stats())
}

// String returns the outcome's label.
func (o outcome) String() string {
	if o < numOutcomes {
		return outcomeLabels[o]
	}
	return strconv.Itoa(int(o))
}
