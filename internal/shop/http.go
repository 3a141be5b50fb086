package shop

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

func (s *Shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", s.handleOrder)
	mux.HandleFunc("GET /orders/{id}/shipment", s.handleShipment)
	mux.HandleFunc("GET /orders/{id}/returns", s.handleOrderReturns)
	mux.HandleFunc("GET /shipments/{tracking}", s.handleTracking)
	mux.HandleFunc("GET /products", s.handleSearch)
	mux.HandleFunc("GET /products/{sku}", s.handleProduct)
	mux.HandleFunc("POST /returns", s.handleCreateReturn)
	mux.HandleFunc("GET /returns/{id}", s.handleReturn)
	mux.HandleFunc("GET /customers/{email}/orders", s.handleCustomerOrders)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("/", noRoute{mux})
	return mux
}

// noRoute answers what no route takes in the shop's JSON error shape:
// 405 with Allow when the path exists for another method, else 404.
// (ServeMux's own answers are plain text, and the catch-all route hides
// its 405s.)
type noRoute struct{ mux *http.ServeMux }

func (n noRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method || m == http.MethodGet && r.Method == http.MethodHead {
			continue
		}
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := n.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeErrorBody(w, http.StatusNotFound, "route_not_found", "no such endpoint: "+r.Method+" "+clip(r.URL.Path), "")
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeErrorBody(w, http.StatusMethodNotAllowed, "method_not_allowed",
		r.Method+" is not allowed on "+clip(r.URL.Path)+"; allowed: "+strings.Join(allow, ", "), "")
}

// encoder is a pooled buffer with its JSON encoder, so a response costs no
// buffer growth once the pool is warm.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

func writeJSON(w http.ResponseWriter, status int, v any) {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		encoders.Put(e)
		writeErrorBody(w, http.StatusInternalServerError, "internal", "internal error", "")
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(e.buf.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(e.buf.Bytes())
	if e.buf.Cap() <= 64<<10 {
		encoders.Put(e)
	}
}

var jsonContentType = []string{"application/json"}

type errorBody struct {
	Error    string `json:"error"`
	Code     string `json:"code"`
	ReturnID string `json:"return_id,omitempty"`
}

func writeErrorBody(w http.ResponseWriter, status int, code, msg, returnID string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code, ReturnID: returnID})
}

// statusOf maps the shop's errors to HTTP status codes, in one place.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrReturnExists):
		return http.StatusConflict
	case errors.Is(err, ErrNotReturnable):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		// Database failures stay in the server: the model reading this
		// can do nothing with them.
		writeErrorBody(w, http.StatusInternalServerError, "internal", "the shop could not answer; try again later", "")
		return
	}
	writeErrorBody(w, statusOf(err), e.Code, e.Message, e.ReturnID)
}

// reply writes v, or err when it is set.
func reply[T any](w http.ResponseWriter, status int, v T, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, v)
}

func (s *Shop) handleOrder(w http.ResponseWriter, r *http.Request) {
	id, err := parseOrderID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	o, err := s.Order(r.Context(), id)
	reply(w, http.StatusOK, &o, err)
}

func (s *Shop) handleShipment(w http.ResponseWriter, r *http.Request) {
	id, err := parseOrderID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	sh, err := s.Shipment(r.Context(), id)
	reply(w, http.StatusOK, &sh, err)
}

func (s *Shop) handleOrderReturns(w http.ResponseWriter, r *http.Request) {
	id, err := parseOrderID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	rs, err := s.ReturnsForOrder(r.Context(), id)
	reply(w, http.StatusOK, &rs, err)
}

func (s *Shop) handleTracking(w http.ResponseWriter, r *http.Request) {
	sh, err := s.ShipmentByTracking(r.Context(), r.PathValue("tracking"))
	reply(w, http.StatusOK, &sh, err)
}

func (s *Shop) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, newErr(ErrInvalid, "invalid_limit", "limit must be between 1 and %d", MaxSearchLimit))
			return
		}
		limit = n
	}
	res, err := s.SearchProducts(r.Context(), q.Get("q"), q.Get("category"), limit)
	reply(w, http.StatusOK, &res, err)
}

func (s *Shop) handleProduct(w http.ResponseWriter, r *http.Request) {
	p, err := s.Product(r.Context(), r.PathValue("sku"))
	reply(w, http.StatusOK, &p, err)
}

func (s *Shop) handleCreateReturn(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErrorBody(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than "+strconv.Itoa(maxRequestBytes)+" bytes", "")
			return
		}
		writeErrorBody(w, http.StatusBadRequest, "invalid_body", "the body could not be read", "")
		return
	}
	req, err := decodeReturnRequest(body)
	if err != nil {
		writeError(w, err)
		return
	}
	ret, err := s.CreateReturn(r.Context(), req)
	if err == nil {
		w.Header().Set("Location", "/returns/"+ret.ReturnID)
	}
	reply(w, http.StatusCreated, &ret, err)
}

func (s *Shop) handleReturn(w http.ResponseWriter, r *http.Request) {
	ret, err := s.Return(r.Context(), r.PathValue("id"))
	reply(w, http.StatusOK, &ret, err)
}

func (s *Shop) handleCustomerOrders(w http.ResponseWriter, r *http.Request) {
	co, err := s.OrdersByEmail(r.Context(), r.PathValue("email"))
	reply(w, http.StatusOK, &co, err)
}

func (s *Shop) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.rdb.PingContext(r.Context()); err != nil {
		writeErrorBody(w, http.StatusServiceUnavailable, "unavailable", "the shop database is unavailable", "")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Today  string `json:"today"`
	}{"ok", s.Today()})
}
