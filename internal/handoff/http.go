package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// maxBodyBytes caps an admin request's body.
const maxBodyBytes = 64 << 10

// Handler returns the admin API of the tickets. Mount it behind the
// admin key; it does no authentication of its own.
//
//	GET  /admin/handoffs?status=open&tenant=acme&limit=50   {"object":"list","data":[ticket…]}
//	GET  /admin/handoffs/{id}                              ticket
//	POST /admin/handoffs/{id}/claim    {"by":"alice"}             ticket (409 if held or resolved)
//	POST /admin/handoffs/{id}/resolve  {"by":"alice","note":"…"}  ticket (409 if resolved)
//
// Errors are in OpenAI's shape: 400 for a bad filter or body, 404 for an
// unknown ticket, 409 for a transition the ticket's status forbids, 500
// for a store failure (logged).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/handoffs", s.handleList)
	mux.HandleFunc("GET /admin/handoffs/{id}", s.handleGet)
	mux.HandleFunc("POST /admin/handoffs/{id}/claim", s.handleClaim)
	mux.HandleFunc("POST /admin/handoffs/{id}/resolve", s.handleResolve)
	mux.HandleFunc("/admin/handoffs", s.notAllowed)
	mux.HandleFunc("/admin/handoffs/", s.notAllowed)
	return mux
}

type ticketList struct {
	Object string   `json:"object"`
	Data   []Ticket `json:"data"`
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Status: Status(q.Get("status")), Tenant: q.Get("tenant")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			s.writeError(w, r, llm.InvalidParam("limit", "limit must be an integer from 1 to %d", MaxListLimit))
			return
		}
		f.Limit = n
	}
	ts, err := s.List(r.Context(), f)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			s.writeError(w, r, llm.InvalidParam("status", "status must be open, claimed or resolved"))
			return
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ticketList{Object: "list", Data: ts})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	t, err := s.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

type transitionRequest struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

func (s *Service) readTransition(w http.ResponseWriter, r *http.Request) (transitionRequest, bool) {
	var req transitionRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(w, r, &llm.Error{Kind: llm.KindTooLarge, Message: "the body is larger than 64 KiB"})
			return req, false
		}
		s.writeError(w, r, llm.Errorf(llm.KindInvalidRequest, "the body could not be read"))
		return req, false
	}
	if len(body) == 0 {
		return req, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.writeError(w, r, llm.Errorf(llm.KindInvalidRequest, "the body must be a JSON object with \"by\" and optionally \"note\": %v", err))
		return req, false
	}
	return req, true
}

func (s *Service) handleClaim(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readTransition(w, r)
	if !ok {
		return
	}
	if req.By == "" {
		s.writeError(w, r, llm.InvalidParam("by", "by is required: who claims the ticket"))
		return
	}
	t, err := s.Claim(r.Context(), r.PathValue("id"), req.By)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Service) handleResolve(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readTransition(w, r)
	if !ok {
		return
	}
	t, err := s.Resolve(r.Context(), r.PathValue("id"), req.By, req.Note)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Service) notAllowed(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &llm.Error{Kind: llm.KindInvalidRequest, Status: http.StatusMethodNotAllowed,
		Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path})
}

// writeError is the one place where an error becomes a response.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *llm.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, ErrNotFound):
		e = &llm.Error{Kind: llm.KindNotFound, Type: llm.TypeNotFound, Code: "handoff_not_found",
			Message: "no handoff ticket " + strconv.Quote(r.PathValue("id"))}
	case errors.Is(err, ErrConflict):
		e = &llm.Error{Kind: llm.KindInvalidRequest, Status: http.StatusConflict, Code: "invalid_transition", Message: err.Error()}
	case errors.Is(err, ErrInvalid):
		e = &llm.Error{Kind: llm.KindInvalidRequest, Code: "invalid_value", Message: err.Error()}
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "handoff admin request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("err", err.Error()))
		e = &llm.Error{Kind: llm.KindServer, Status: http.StatusInternalServerError, Message: "internal error"}
	}
	status := e.HTTPStatus()
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(llm.AppendErrorBody(nil, e.Body()), '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(append(llm.AppendErrorBody(nil, (&llm.Error{Kind: llm.KindServer, Message: "internal error"}).Body()), '\n'))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
