package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an Error by what the caller should do about it.
type Kind uint8

// Error kinds. The router fails over on the retryable ones; the gateway maps
// every kind to an HTTP status in one place.
const (
	KindUnknown        Kind = iota
	KindInvalidRequest      // the request is wrong; no endpoint will accept it (4xx)
	KindAuth                // credentials refused (401/403)
	KindNotFound            // model or route unknown (404)
	KindTooLarge            // body too large (413)
	KindRateLimited         // capacity exceeded (429); RetryAfter says when to come back
	KindConnect             // no connection to the endpoint could be made
	KindTimeout             // the endpoint did not answer in time (first token or total)
	KindServer              // the endpoint failed (5xx, malformed answer)
	KindStreamCut           // a stream broke after it had started
	KindUnavailable         // no endpoint could serve the request
	KindCanceled            // the caller went away
	KindContentFilter       // refused by a content filter
)

var kindNames = [...]string{
	KindUnknown:        "unknown",
	KindInvalidRequest: "invalid_request",
	KindAuth:           "auth",
	KindNotFound:       "not_found",
	KindTooLarge:       "too_large",
	KindRateLimited:    "rate_limited",
	KindConnect:        "connect",
	KindTimeout:        "timeout",
	KindServer:         "server",
	KindStreamCut:      "stream_cut",
	KindUnavailable:    "unavailable",
	KindCanceled:       "canceled",
	KindContentFilter:  "content_filter",
}

// String returns the kind's name, used as a metric label.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// OpenAI error types, the "type" field of an error body.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeUnavailable    = "service_unavailable"
	TypeTimeout        = "timeout"
)

// Error is what went wrong with a model call or a request, with what the
// router needs to decide on failover (Kind, Retryable, RetryAfter) and what
// the gateway needs to answer the client in OpenAI's error shape (Status,
// Type, Code, Param, Message).
type Error struct {
	Kind       Kind
	Status     int           // HTTP status to answer with; 0 means derive from Kind
	Type       string        // OpenAI error type; "" means derive from Kind
	Code       string        // OpenAI error code, e.g. "model_not_found"
	Param      string        // the request parameter at fault, if any
	Message    string        // human-readable; safe to show to the client
	Retryable  bool          // another attempt (elsewhere or later) may succeed
	RetryAfter time.Duration // when the endpoint said to come back, if it did
	Endpoint   string        // the endpoint that produced it, if any
	Err        error         // the cause, if any; never shown to the client
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Endpoint != "" {
		msg = e.Endpoint + ": " + msg
	}
	if e.Err != nil && e.Err.Error() != e.Message {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus returns the status the gateway answers with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Kind {
	case KindInvalidRequest, KindContentFilter:
		return http.StatusBadRequest
	case KindAuth:
		return http.StatusUnauthorized
	case KindNotFound:
		return http.StatusNotFound
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindRateLimited:
		return http.StatusTooManyRequests
	case KindTimeout:
		return http.StatusGatewayTimeout
	case KindCanceled:
		return 499 // client closed request; never reaches a client
	case KindConnect, KindServer, KindStreamCut:
		return http.StatusBadGateway
	}
	return http.StatusServiceUnavailable
}

// ErrorType returns the OpenAI error type for the body.
func (e *Error) ErrorType() string {
	if e.Type != "" {
		return e.Type
	}
	switch e.Kind {
	case KindInvalidRequest, KindTooLarge, KindContentFilter:
		return TypeInvalidRequest
	case KindAuth:
		return TypeAuthentication
	case KindNotFound:
		return TypeInvalidRequest
	case KindRateLimited:
		return TypeRateLimit
	case KindTimeout:
		return TypeTimeout
	case KindUnavailable:
		return TypeUnavailable
	}
	return TypeServer
}

// Errorf returns an *Error of kind k with a formatted client-safe message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// InvalidParam returns a 400 error naming the parameter at fault.
func InvalidParam(param, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Param: param, Code: "invalid_value", Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error: the one in its chain, or a new one
// classifying it (context cancellation and deadline, or unknown).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindCanceled, Message: "request canceled", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, Message: "request deadline exceeded", Err: err}
	}
	return &Error{Kind: KindUnknown, Message: "internal error", Err: err}
}

// IsRetryable reports whether err says another attempt may succeed.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// ErrorBody is OpenAI's error shape: {"error":{"message","type","param","code"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody. Param and Code are null on the
// wire when empty, as OpenAI writes them.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Body returns e in OpenAI's error shape.
func (e *Error) Body() ErrorBody {
	d := ErrorDetail{Message: e.Message, Type: e.ErrorType()}
	if d.Message == "" {
		d.Message = e.Kind.String()
	}
	if e.Param != "" {
		p := e.Param
		d.Param = &p
	}
	if e.Code != "" {
		c := e.Code
		d.Code = &c
	}
	return ErrorBody{Error: d}
}
