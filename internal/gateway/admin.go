package gateway

import (
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

// HandleAdmin mounts h on pattern behind the admin keys (Config.AdminKeys):
// the operations API (usage, handoffs). Without an admin key the route
// answers 401, with a tenant's key 403. Call it before serving.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.extra.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := apiKey(r.Header)
		if key == "" {
			s.writeAdminError(w, errMissingKey)
			return
		}
		if _, ok := s.admins[sha256.Sum256([]byte(key))]; !ok {
			if _, aerr := s.authenticate(r); aerr == nil { // a tenant's key
				s.writeAdminError(w, errNotAdmin)
				return
			}
			s.writeAdminError(w, errInvalidKey)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

var errNotAdmin = &llm.Error{Kind: llm.KindAuth, Status: http.StatusForbidden, Type: llm.TypeInvalidRequest, Code: "not_admin",
	Message: "This API key may not use the operations API; use an admin key."}

// writeAdminError answers an admin route's refusal; w is the exchange the
// gateway passed to the mounted handler.
func (s *Server) writeAdminError(w http.ResponseWriter, e *llm.Error) {
	if x, ok := w.(*exchange); ok {
		s.writeError(x, e)
		return
	}
	http.Error(w, e.Message, errorStatus(e))
}

// UsageRecorder takes usage records off the request path; *ledger.Publisher
// satisfies it.
type UsageRecorder interface {
	Publish(*ledger.Record) bool
}

// recordChat publishes the usage of a plain chat completion: one call
// record keyed by the request id.
func (s *Server) recordChat(x *exchange, id *Identity, start time.Time, u *llm.Usage, cost float64) {
	if s.cfg.Usage == nil {
		return
	}
	rec := &ledger.Record{ID: x.id, Kind: ledger.KindCall, At: start, Tenant: id.Tenant, Tier: id.Tier,
		Model: x.model, Cost: ledger.Dollars(cost), Latency: s.cfg.Now().Sub(start)}
	rec.SetUsage(u)
	status := x.status
	if x.outcome != 0 {
		status = x.outcome
	}
	if status >= 400 {
		rec.Status, rec.Error = ledger.StatusError, http.StatusText(status)
	} else {
		rec.Status = ledger.StatusOK
	}
	s.cfg.Usage.Publish(rec)
}
