package router

import (
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Observer receives the router's events; the monitor package implements it.
// Its methods are called on the request path, from many goroutines at once:
// they must be cheap, safe for concurrent use and must not block.
type Observer interface {
	// Attempt reports one finished attempt on endpoint for floodgate's
	// model: its duration (a stream's: until its end), its time to first
	// token (streams only, else 0), the usage if known, and err (nil on
	// success). Every attempt is reported exactly once.
	Attempt(endpoint, model string, d, ttft time.Duration, usage *llm.Usage, err error)
	// Failover reports that a request for model moves on from endpoint
	// from after a failure of the given kind.
	Failover(model, from string, kind llm.Kind)
	// Ejected reports that endpoint's route for model is out for coolDown.
	Ejected(endpoint, model string, coolDown time.Duration)
	// Restored reports that a probe found endpoint's route for model well
	// again.
	Restored(endpoint, model string)
}
