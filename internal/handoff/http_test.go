package handoff

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

type response struct {
	code int
	body []byte
}

func call(h http.Handler, method, path, body string) response {
	rec := httptest.NewRecorder()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.Bytes()}
}

// errorOf decodes an OpenAI-shaped error body.
func errorOf(t *testing.T, r response) llm.ErrorDetail {
	t.Helper()
	var b struct {
		Error *llm.ErrorDetail `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.body, &b), "body %s", r.body)
	require.NotNil(t, b.Error, "body %s", r.body)
	require.NotEmpty(t, b.Error.Message)
	require.NotEmpty(t, b.Error.Type)
	return *b.Error
}

func TestAdminAPI(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, openSQLite(t), &recorder{}, nil)
	h := s.Handler()
	a, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1", Priority: 1})
	require.NoError(t, err)
	b, err := s.Open(ctx, Ticket{Tenant: "globex", Session: "s2", Priority: 5})
	require.NoError(t, err)
	c, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s3", Priority: 3})
	require.NoError(t, err)
	_, err = s.Resolve(ctx, c.ID, "bob", "")
	require.NoError(t, err)

	list := func(query string) []string {
		r := call(h, "GET", "/admin/handoffs"+query, "")
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var l ticketList
		require.NoError(t, json.Unmarshal(r.body, &l))
		assert.Equal(t, "list", l.Object)
		out := []string{}
		for _, tk := range l.Data {
			out = append(out, tk.ID)
		}
		return out
	}
	assert.Equal(t, []string{b.ID, a.ID, c.ID}, list(""))
	assert.Equal(t, []string{b.ID, a.ID}, list("?status=open"))
	assert.Equal(t, []string{c.ID}, list("?status=resolved"))
	assert.Equal(t, []string{a.ID, c.ID}, list("?tenant=acme"))
	assert.Equal(t, []string{b.ID}, list("?limit=1"))
	assert.Equal(t, []string{}, list("?status=claimed"))

	tests := []struct {
		name       string
		method     string
		path, body string
		want       int
		wantStatus Status // of the ticket answered
		wantCode   string // of the error answered
	}{
		{"get", "GET", "/admin/handoffs/" + a.ID, "", 200, StatusOpen, ""},
		{"get unknown", "GET", "/admin/handoffs/ho_nosuch", "", 404, "", "handoff_not_found"},
		{"claim", "POST", "/admin/handoffs/" + a.ID + "/claim", `{"by":"alice"}`, 200, StatusClaimed, ""},
		{"claim again", "POST", "/admin/handoffs/" + a.ID + "/claim", `{"by":"alice"}`, 200, StatusClaimed, ""},
		{"claim held by another", "POST", "/admin/handoffs/" + a.ID + "/claim", `{"by":"bob"}`, 409, "", "invalid_transition"},
		{"claim without by", "POST", "/admin/handoffs/" + b.ID + "/claim", `{}`, 400, "", "invalid_value"},
		{"claim without body", "POST", "/admin/handoffs/" + b.ID + "/claim", ``, 400, "", "invalid_value"},
		{"claim bad json", "POST", "/admin/handoffs/" + b.ID + "/claim", `{"by":`, 400, "", ""},
		{"claim unknown field", "POST", "/admin/handoffs/" + b.ID + "/claim", `{"who":"x"}`, 400, "", ""},
		{"claim unknown", "POST", "/admin/handoffs/ho_nosuch/claim", `{"by":"alice"}`, 404, "", "handoff_not_found"},
		{"claim resolved", "POST", "/admin/handoffs/" + c.ID + "/claim", `{"by":"alice"}`, 409, "", "invalid_transition"},
		{"resolve", "POST", "/admin/handoffs/" + a.ID + "/resolve", `{"by":"alice","note":"refunded"}`, 200, StatusResolved, ""},
		{"resolve twice", "POST", "/admin/handoffs/" + a.ID + "/resolve", `{"by":"alice"}`, 409, "", "invalid_transition"},
		{"resolve unclaimed, no body", "POST", "/admin/handoffs/" + b.ID + "/resolve", ``, 200, StatusResolved, ""},
		{"resolve unknown", "POST", "/admin/handoffs/ho_nosuch/resolve", `{}`, 404, "", "handoff_not_found"},
		{"bad status filter", "GET", "/admin/handoffs?status=closed", "", 400, "", "invalid_value"},
		{"bad limit", "GET", "/admin/handoffs?limit=0", "", 400, "", "invalid_value"},
		{"wrong method", "DELETE", "/admin/handoffs/" + a.ID, "", 405, "", "method_not_allowed"},
		{"wrong method on list", "PUT", "/admin/handoffs", "", 405, "", "method_not_allowed"},
		{"body too large", "POST", "/admin/handoffs/" + b.ID + "/claim", `{"by":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(h, tt.method, tt.path, tt.body)
			require.Equal(t, tt.want, r.code, "%s", r.body)
			if tt.want != http.StatusOK {
				e := errorOf(t, r)
				if tt.wantCode != "" {
					require.NotNil(t, e.Code)
					assert.Equal(t, tt.wantCode, *e.Code)
				}
				return
			}
			var tk Ticket
			require.NoError(t, json.Unmarshal(r.body, &tk))
			assert.Equal(t, tt.wantStatus, tk.Status)
		})
	}
	got, err := s.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "refunded", got.Resolution)
	assert.Equal(t, "alice", got.ClaimedBy)
}

// TestAdminAPIStoreFailure answers a store failure with a 500 in OpenAI's
// shape and no detail.
func TestAdminAPIStoreFailure(t *testing.T) {
	st := openSQLite(t)
	s, _ := newService(t, st, &recorder{}, nil)
	require.NoError(t, st.Close())
	r := call(s.Handler(), "GET", "/admin/handoffs", "")
	require.Equal(t, http.StatusInternalServerError, r.code)
	e := errorOf(t, r)
	assert.Equal(t, "internal error", e.Message)
	assert.Equal(t, llm.TypeServer, e.Type)
}
