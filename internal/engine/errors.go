package engine

import (
	"errors"
	"net/http"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Describe returns what to tell a client about an error of Run, Submit,
// GetRun, Session or DeleteSession: a message safe to show, an OpenAI
// error type and code, and the HTTP status it maps to. Causes that are not
// the client's business (store failures) are described as internal.
func Describe(err error) *ErrorInfo {
	info := func(status int, typ, code, msg string) *ErrorInfo {
		return &ErrorInfo{Message: msg, Type: typ, Code: code, Status: status}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnknownAgent):
		return info(http.StatusNotFound, llm.TypeNotFound, "agent_not_found", err.Error())
	case errors.Is(err, ErrInvalidRequest):
		return info(http.StatusBadRequest, llm.TypeInvalidRequest, "invalid_value", err.Error())
	case errors.Is(err, store.ErrInvalid):
		return info(http.StatusBadRequest, llm.TypeInvalidRequest, "invalid_value", "an id is malformed")
	case errors.Is(err, ErrAsyncDisabled):
		return info(http.StatusNotImplemented, llm.TypeInvalidRequest, "async_disabled", "async runs are not configured")
	case errors.Is(err, ErrSessionBusy):
		return info(http.StatusConflict, llm.TypeInvalidRequest, "session_busy",
			"another turn of this session is still running; retry later")
	case errors.Is(err, store.ErrLeaseLost):
		return info(http.StatusConflict, llm.TypeInvalidRequest, "session_taken_over",
			"another turn took this session over; nothing was stored, retry with the same run_id")
	case errors.Is(err, store.ErrNotFound):
		return info(http.StatusNotFound, llm.TypeNotFound, "not_found", "not found")
	}
	if e := llm.AsError(err); e.Kind != llm.KindUnknown {
		return errorInfo(e)
	}
	return info(http.StatusInternalServerError, llm.TypeServer, "", "internal error")
}
