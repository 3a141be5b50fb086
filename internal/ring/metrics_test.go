package ring

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCollector(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	assert.Equal(t, "a", a.Self().ID)
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	readAll(t, post(t, a, s, "x"))
	eventuallyStat(t, a, func(s Stats) int64 { return s.Forwards }, 1)

	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(a.Collector()))
	assert.EqualValues(t, 1, b.Stats().Received)
	problems, err := testutil.CollectAndLint(a.Collector())
	require.NoError(t, err)
	assert.Empty(t, problems)
	want := `
# HELP floodgate_ring_forwards_total Requests proxied to their session's owner and answered by it.
# TYPE floodgate_ring_forwards_total counter
floodgate_ring_forwards_total 1
# HELP floodgate_ring_members Live members of the ring as this node sees them, itself included.
# TYPE floodgate_ring_members gauge
floodgate_ring_members 2
# HELP floodgate_ring_forward_errors_total Forward attempts that failed before the owner answered, by reason (dial: owner unreachable; transport: connection broke).
# TYPE floodgate_ring_forward_errors_total counter
floodgate_ring_forward_errors_total{reason="dial"} 0
floodgate_ring_forward_errors_total{reason="transport"} 0
`
	assert.NoError(t, testutil.CollectAndCompare(a.Collector(), strings.NewReader(want),
		"floodgate_ring_forwards_total", "floodgate_ring_members", "floodgate_ring_forward_errors_total"))
	assert.Equal(t, 12, testutil.CollectAndCount(a.Collector()))
}

// TestRouteForwardsWithoutBody: a GET (no body) is forwarded and signed
// like any other request.
func TestRouteForwardsWithoutBody(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/v1/sessions/x?session="+s, nil)
	req.Header.Set("X-Tenant", "t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "b", resp.Header.Get("X-Served-By"))
	assert.Equal(t, "", nextServed(t, b).body)
}

type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadBody(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		body      io.Reader
		length    int64
		limit     int64
		wantBody  string
		wantWhole bool
		wantErr   error
		wantRest  string // what r.Body yields when not whole
	}{
		{name: "none", limit: 4, wantWhole: true},
		{name: "known length", body: strings.NewReader("abcd"), length: 4, limit: 4, wantBody: "abcd", wantWhole: true},
		{name: "unknown length", body: strings.NewReader("abc"), length: -1, limit: 4, wantBody: "abc", wantWhole: true},
		{name: "declared too large", body: strings.NewReader("abcdef"), length: 6, limit: 4, wantRest: "abcdef"},
		{name: "unknown and too large", body: strings.NewReader("abcdef"), length: -1, limit: 4, wantRest: "abcdef"},
		{name: "read error", body: &failingReader{data: "ab", err: boom}, length: -1, limit: 4, wantErr: boom, wantRest: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://x/", tt.body)
			r.ContentLength = tt.length
			body, whole, err := readBody(r, tt.limit)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.wantWhole, whole)
			if whole {
				assert.Equal(t, tt.wantBody, string(body))
				return
			}
			rest, rerr := io.ReadAll(r.Body)
			assert.Equal(t, tt.wantRest, string(rest))
			assert.ErrorIs(t, rerr, tt.wantErr)
		})
	}
}
