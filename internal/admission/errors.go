package admission

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Reasons a request is not admitted. Admit returns them inside an
// *llm.Error, so errors.Is finds them and llm.AsError gives the gateway the
// status to answer with: ErrShed and ErrExpired are KindRateLimited (429)
// with RetryAfter set; ErrCanceled is KindCanceled; ErrClosed is
// KindUnavailable (503) with a RetryAfter of a second.
var (
	// ErrShed means the queue was full of requests of at least the same
	// priority, the request was displaced by one of higher priority, or
	// the queue expected it to wait past its deadline (early shedding).
	ErrShed = errors.New("admission: shed")
	// ErrExpired means the request's deadline passed before a slot freed
	// (or its context's deadline did).
	ErrExpired = errors.New("admission: deadline passed while queued")
	// ErrCanceled means the request's context was canceled before it was
	// admitted.
	ErrCanceled = errors.New("admission: canceled while queued")
	// ErrClosed means the queue was closed (the node is shutting down)
	// before the request was admitted.
	ErrClosed = errors.New("admission: queue closed")
)

// Codes of the errors Admit returns, the "code" of OpenAI's error body.
const (
	CodeQueueFull    = "queue_full"
	CodeQueueTimeout = "queue_timeout"
	CodeShuttingDown = "shutting_down"
)

// rejected is the error for a request shed (reason ErrShed) or expired
// (ErrExpired); cause, if not nil, is the context error behind it.
func rejected(reason error, retryAfter time.Duration, cause error) error {
	e := &llm.Error{
		Kind:       llm.KindRateLimited,
		Retryable:  true,
		RetryAfter: retryAfter,
		Err:        reason,
	}
	if reason == ErrShed {
		e.Code = CodeQueueFull
		e.Message = "The server is at capacity. Please retry after a short wait."
	} else {
		e.Code = CodeQueueTimeout
		e.Message = "The request waited too long for capacity. Please retry after a short wait."
	}
	if cause != nil {
		e.Err = fmt.Errorf("%w: %w", reason, cause)
	}
	return e
}

// canceled is the error for a request whose context ended with cause
// (context.Canceled or another cause) while it waited.
func canceled(cause error) error {
	return &llm.Error{
		Kind:    llm.KindCanceled,
		Message: "request canceled while waiting for capacity",
		Err:     fmt.Errorf("%w: %w", ErrCanceled, cause),
	}
}

// ctxOutcome classifies the end of ctx: its deadline passing is an expiry,
// anything else a cancellation.
func ctxOutcome(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return OutcomeExpired
	}
	return OutcomeCanceled
}

// closedError is the error for a request refused or failed by Close.
func closedError() error {
	return &llm.Error{
		Kind:       llm.KindUnavailable,
		Code:       CodeShuttingDown,
		Message:    "The server is shutting down. Please retry.",
		Retryable:  true,
		RetryAfter: minRetryAfter,
		Err:        ErrClosed,
	}
}
