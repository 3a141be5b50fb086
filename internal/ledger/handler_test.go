package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

var parseNow = time.Date(2025, 11, 28, 12, 30, 0, 0, time.UTC)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		give string
		want Query
	}{
		{"", Query{GroupBy: GroupAgent, From: parseNow.Add(-24 * time.Hour), To: parseNow}},
		{"group_by=hour&from=-6h", Query{GroupBy: GroupHour, From: parseNow.Add(-6 * time.Hour), To: parseNow}},
		{"group_by=model&from=2025-11-27&to=2025-11-28", Query{GroupBy: GroupModel,
			From: time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 11, 28, 0, 0, 0, 0, time.UTC)}},
		{"from=2025-11-28T03:00:00%2B01:00&to=now", Query{GroupBy: GroupAgent,
			From: time.Date(2025, 11, 28, 2, 0, 0, 0, time.UTC), To: parseNow}},
		{"group_by=tenant&from=-7d&to=-1d", Query{GroupBy: GroupTenant, From: parseNow.AddDate(0, 0, -7), To: parseNow.AddDate(0, 0, -1)}},
		{"from=1764298800&to=1764302400", Query{GroupBy: GroupAgent,
			From: time.Unix(1764298800, 0).UTC(), To: time.Unix(1764302400, 0).UTC()}},
		{"to=2025-11-28T00:00:00.1234567Z", Query{GroupBy: GroupAgent,
			From: time.Date(2025, 11, 27, 0, 0, 0, 123456000, time.UTC), To: time.Date(2025, 11, 28, 0, 0, 0, 123456000, time.UTC)}},
	}
	for _, tt := range tests {
		got, err := ParseQuery(tt.give, parseNow)
		require.Nil(t, err, tt.give)
		assert.Equal(t, tt.want, got, tt.give)
	}
}

func TestParseQueryRefuses(t *testing.T) {
	tests := []struct {
		give  string
		param string
	}{
		{"group_by=user", "group_by"},
		{"group_by=", "group_by"},
		{"group_by=agent&group_by=model", "group_by"},
		{"tenant=acme", "tenant"},
		{"from=yesterday", "from"},
		{"to=2025-13-01", "to"},
		{"from=-1y", "from"},
		{"from=", "from"},
		{"from=now&to=now", "from"},
		{"from=2025-11-28&to=2025-11-27", "from"},
		{"from=0001-01-01T00:00:00Z", "from"},
		{"to=-999999999d", "to"},
		{"from=%zz", ""},
	}
	for _, tt := range tests {
		_, err := ParseQuery(tt.give, parseNow)
		require.NotNil(t, err, tt.give)
		assert.Equal(t, http.StatusBadRequest, err.HTTPStatus(), tt.give)
		assert.Equal(t, tt.param, err.Param, tt.give)
	}
}

// FuzzParseQuery: any query string either parses into a range the
// databases can take, or is refused with a 400; never a panic.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "group_by=hour&from=-6h", "from=2025-11-27&to=2025-11-28", "from=1764298800",
		"group_by=day&from=-7d&to=now", "from=%zz", "a=1&a=2", "to=2025-11-28T03:00:00.999999999%2B14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw, parseNow)
		if err != nil {
			require.Equal(t, http.StatusBadRequest, err.HTTPStatus())
			require.NotEmpty(t, err.Message)
			return
		}
		require.True(t, q.GroupBy.Valid())
		require.True(t, q.From.Before(q.To))
		require.False(t, q.From.Before(minTime))
		require.False(t, q.To.After(maxTime))
		require.Equal(t, time.UTC, q.From.Location())
	})
}

type sourceFunc func(ctx context.Context, q Query) (*Breakdown, error)

func (f sourceFunc) Breakdown(ctx context.Context, q Query) (*Breakdown, error) { return f(ctx, q) }

func TestHandler(t *testing.T) {
	db := openDB(t, Config{Path: ":memory:"})
	h := time.Date(2025, 11, 28, 3, 0, 0, 0, time.UTC)
	recs := breakdownRecords(h)
	for i := range recs {
		recs[i].fill(func() string { return "x" }, h)
	}
	_, err := db.Insert(context.Background(), recs)
	require.NoError(t, err)
	srv := httptest.NewServer(&Handler{Source: db, Now: func() time.Time { return h.Add(2 * time.Hour) }, Logger: quiet})
	defer srv.Close()

	res, err := http.Get(srv.URL + "/admin/usage?group_by=tenant&from=2025-11-28T03:00:00Z")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var b Breakdown
	require.NoError(t, json.NewDecoder(res.Body).Decode(&b))
	assert.Equal(t, GroupTenant, b.GroupBy)
	assert.Equal(t, h, b.From)
	assert.Equal(t, h.Add(2*time.Hour), b.To)
	require.Len(t, b.Rows, 2)
	assert.Equal(t, Row{Key: "acme", Requests: 2, Calls: 3, Errors: 1, TokensIn: 420, TokensOut: 40, TokensCached: 50,
		Cost: 21_007, LatencyP50MS: 100, LatencyAvgMS: 400}, b.Rows[0])
	assert.Equal(t, USD(51_007), b.Total.Cost)

	tests := []struct {
		method, query string
		src           Source
		status        int
		errType, code string
	}{
		{"GET", "group_by=user", db, 400, llm.TypeInvalidRequest, "invalid_value"},
		{"GET", "from=tomorrow", db, 400, llm.TypeInvalidRequest, "invalid_value"},
		{"POST", "", db, 405, llm.TypeInvalidRequest, "method_not_allowed"},
		{"GET", "", sourceFunc(func(context.Context, Query) (*Breakdown, error) { return nil, errors.New("db down") }),
			500, llm.TypeServer, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		(&Handler{Source: tt.src, Logger: quiet}).ServeHTTP(rec, httptest.NewRequest(tt.method, "/admin/usage?"+tt.query, nil))
		assert.Equal(t, tt.status, rec.Code, tt.query)
		var body llm.ErrorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
		assert.Equal(t, tt.errType, body.Error.Type, tt.query)
		assert.NotEmpty(t, body.Error.Message)
		assert.NotContains(t, body.Error.Message, "db down", "causes stay in the log")
		if tt.code != "" {
			require.NotNil(t, body.Error.Code)
			assert.Equal(t, tt.code, *body.Error.Code)
		}
		assert.True(t, strings.HasSuffix(rec.Body.String(), "}\n"))
	}
}
