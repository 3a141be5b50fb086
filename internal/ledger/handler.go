package ledger

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// DefaultRange is the range of a breakdown whose from is not given.
const DefaultRange = 24 * time.Hour

// Earliest and latest times a query may name: both databases format
// years of four digits.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// ParseQuery reads the parameters of GET /admin/usage from a raw query
// string:
//
//	group_by  one of Groups; default agent
//	from, to  the range [from, to): RFC 3339 ("2025-11-28T03:00:00Z"),
//	          a UTC date ("2025-11-28"), Unix seconds ("1764298800"),
//	          "now", or an offset from now ("-24h", "-90m", "-7d");
//	          default to = now, from = to - DefaultRange
//
// Every other parameter, a repeated one, and a range that is empty or
// outside years 1970-9999 are refused with an *llm.Error naming the
// parameter (a 400 in OpenAI's shape). now is the current time.
func ParseQuery(raw string, now time.Time) (Query, *llm.Error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return Query{}, llm.InvalidParam("", "malformed query string: %v", err)
	}
	q := Query{GroupBy: GroupAgent}
	for name, vals := range v {
		switch name {
		case "group_by", "from", "to":
		default:
			return Query{}, llm.InvalidParam(name, "unknown parameter %q (want group_by, from, to)", truncate(name, 64))
		}
		if len(vals) != 1 {
			return Query{}, llm.InvalidParam(name, "%s given %d times", name, len(vals))
		}
	}
	if g, ok := v["group_by"]; ok {
		q.GroupBy = GroupBy(g[0])
		if !q.GroupBy.Valid() {
			return Query{}, llm.InvalidParam("group_by", "group_by must be one of %s", groupList())
		}
	}
	q.To = now
	if s, ok := v["to"]; ok {
		t, err := parseTime(s[0], now)
		if err != nil {
			return Query{}, llm.InvalidParam("to", "to: %s", err)
		}
		q.To = t
	}
	q.From = q.To.Add(-DefaultRange)
	if s, ok := v["from"]; ok {
		t, err := parseTime(s[0], now)
		if err != nil {
			return Query{}, llm.InvalidParam("from", "from: %s", err)
		}
		q.From = t
	}
	q.From, q.To = q.From.UTC().Truncate(time.Microsecond), q.To.UTC().Truncate(time.Microsecond)
	switch {
	case q.From.Before(minTime) || q.From.After(maxTime):
		return Query{}, llm.InvalidParam("from", "from must be between 1970 and 9999")
	case q.To.Before(minTime) || q.To.After(maxTime):
		return Query{}, llm.InvalidParam("to", "to must be between 1970 and 9999")
	case !q.From.Before(q.To):
		return Query{}, llm.InvalidParam("from", "from (%s) must be before to (%s)",
			q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return q, nil
}

func groupList() string {
	s := make([]string, len(Groups))
	for i, g := range Groups {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

// timeError is a client-safe reason a time was refused.
type timeError string

func (e timeError) Error() string { return string(e) }

const badTime = timeError("want RFC 3339, YYYY-MM-DD, Unix seconds, now, or an offset such as -24h or -7d")

// parseTime reads one time of ParseQuery's forms.
func parseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case s == "":
		return time.Time{}, timeError("empty")
	case s[0] == '-' || s[0] == '+':
		return parseOffset(s, now)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if len(s) <= 12 {
		// Up to 12 digits covers Unix seconds to year 9999 and no more.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, badTime
}

// parseOffset reads "-24h", "-90m", "-7d" (days are 24 h) relative to now.
func parseOffset(s string, now time.Time) (time.Time, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
		if err != nil || n < -3_000_000 || n > 3_000_000 {
			return time.Time{}, badTime
		}
		return now.AddDate(0, 0, int(n)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, badTime
	}
	return now.Add(d), nil
}

// Source answers breakdowns; *DB is one.
type Source interface {
	Breakdown(ctx context.Context, q Query) (*Breakdown, error)
}

// Handler serves GET /admin/usage: the breakdown ParseQuery describes, as
// the JSON of a Breakdown. Bad parameters get a 400, other methods a 405,
// a failed query a 500, all in OpenAI's error shape. It does no
// authentication: mount it behind the admin key. The zero value is not
// usable: set Source.
type Handler struct {
	// Source answers the queries. Required.
	Source Source
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Timeout bounds one query. Default 30 s.
	Timeout time.Duration
	// Logger receives failed queries. Default slog.Default().
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, &llm.Error{Kind: llm.KindInvalidRequest, Status: http.StatusMethodNotAllowed,
			Code: "method_not_allowed", Message: "use GET"})
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	q, perr := ParseQuery(r.URL.RawQuery, now())
	if perr != nil {
		writeError(w, perr)
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	b, err := h.Source.Breakdown(ctx, q)
	if err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.LogAttrs(ctx, slog.LevelError, "ledger: usage query failed", slog.String("group_by", string(q.GroupBy)),
			slog.Time("from", q.From), slog.Time("to", q.To), slog.Any("error", err))
		writeError(w, &llm.Error{Kind: llm.KindServer, Status: http.StatusInternalServerError,
			Message: "the usage query failed", Err: err})
		return
	}
	body, err := json.Marshal(b)
	if err != nil {
		writeError(w, &llm.Error{Kind: llm.KindServer, Status: http.StatusInternalServerError,
			Message: "the usage answer could not be encoded", Err: err})
		return
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError answers with e in OpenAI's error shape.
func writeError(w http.ResponseWriter, e *llm.Error) {
	body := append(llm.AppendErrorBody(nil, e.Body()), '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(body)
}
