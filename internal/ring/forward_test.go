package ring

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// post sends body to node n for a session of tenant "t".
func post(t *testing.T, n *testNode, session, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.srv.URL+"/v1/turn?session="+url.QueryEscape(session), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Tenant", "t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func nextServed(t *testing.T, n *testNode) served {
	t.Helper()
	select {
	case s := <-n.seen:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("%s served nothing", n.self.ID)
		return served{}
	}
}

func twoNodes(t *testing.T, fc ForwarderConfig) (*memBackend, *testNode, *testNode) {
	be := newMemBackend()
	a := newTestNode(t, be, "a", fc)
	b := newTestNode(t, be, "b", fc)
	waitMembers(t, 2, a.runningRing, b.runningRing)
	return be, a, b
}

func TestRouteServesOwnSessionLocally(t *testing.T) {
	_, a, _ := twoNodes(t, ForwarderConfig{})
	s := sessionOwnedBy(t, a.Ring, "t", "a")
	resp := post(t, a, s, "hello")
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "served by a", readAll(t, resp))
	got := nextServed(t, a)
	assert.Equal(t, "hello", got.body)
	assert.Empty(t, got.from)
	assert.Empty(t, got.idem, "a local turn is not touched")
	assert.Zero(t, a.Stats().Forwards)
}

func TestRouteForwardsToOwner(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	resp := post(t, a, s, `{"input":"where is my order?"}`)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "the owner's status is relayed")
	assert.Equal(t, "b", resp.Header.Get("X-Served-By"), "and its headers")
	assert.Equal(t, "served by b", readAll(t, resp))
	got := nextServed(t, b)
	assert.Equal(t, `{"input":"where is my order?"}`, got.body, "body intact")
	assert.Equal(t, "a", got.from, "ForwardedBy")
	assert.True(t, strings.HasPrefix(got.idem, "fwd_"), "an idempotency key is added: %q", got.idem)
	assert.Zero(t, a.hits.Load())
	eventuallyStat(t, a, func(s Stats) int64 { return s.Forwards }, 1)
	assert.EqualValues(t, 1, b.Stats().Received)

	// A client's own key is kept.
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/v1/turn?session="+s, strings.NewReader("x"))
	req.Header.Set("X-Tenant", "t")
	req.Header.Set(HeaderIdempotencyKey, "run-42")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, "run-42", nextServed(t, b).idem)
}

// TestRouteStreamsEventByEvent: each server-sent event reaches the client
// before the owner writes the next; the owner waits for the client to
// have read it.
func TestRouteStreamsEventByEvent(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	read := make(chan int)
	b.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := range 3 {
			fmt.Fprintf(w, "event: delta\ndata: {\"n\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case got := <-read:
				if got != i {
					return
				}
			case <-time.After(5 * time.Second):
				return // the event never reached the client: the test fails below
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	resp := post(t, a, s, `{"stream":true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		deadline := time.AfterFunc(3*time.Second, func() { resp.Body.Close() })
		ev := readEvent(t, br)
		deadline.Stop()
		assert.Equal(t, fmt.Sprintf("event: delta\ndata: {\"n\":%d}\n", i), ev)
		read <- i
	}
	assert.Equal(t, "data: [DONE]\n", readEvent(t, br))
}

// readEvent reads one server-sent event, up to its blank line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "stream ended after %q", sb.String())
		if line == "\n" {
			return sb.String()
		}
		sb.WriteString(line)
	}
}

// TestRouteClientGoneCancelsOwner: a client that goes away mid-stream
// cancels the owner's request.
func TestRouteClientGoneCancelsOwner(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	canceled := make(chan struct{})
	b.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(canceled)
		case <-time.After(5 * time.Second):
		}
	}))
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.srv.URL+"/v1/turn?session="+s, strings.NewReader("x"))
	req.Header.Set("X-Tenant", "t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	readEvent(t, bufio.NewReader(resp.Body))
	cancel()
	resp.Body.Close()
	select {
	case <-canceled:
	case <-time.After(3 * time.Second):
		t.Fatal("the owner's request was not canceled")
	}
}

// TestRouteNoLoop: when the nodes disagree about the owner (each thinks
// the other owns the session), a turn is still forwarded only once.
func TestRouteNoLoop(t *testing.T) {
	be := newMemBackend()
	a := newTestNode(t, fixedOwner{be, "b"}, "a", ForwarderConfig{})
	b := newTestNode(t, fixedOwner{be, "a"}, "b", ForwarderConfig{})
	waitMembers(t, 2, a.runningRing, b.runningRing)
	resp := post(t, a, "s1", "x")
	assert.Equal(t, "served by b", readAll(t, resp))
	eventuallyStat(t, a, func(s Stats) int64 { return s.Forwards }, 1)
	assert.Zero(t, b.Stats().Forwards, "b served a forwarded turn itself")
	assert.Zero(t, a.hits.Load())
	resp = post(t, b, "s1", "y")
	assert.Equal(t, "served by a", readAll(t, resp))
}

// eventuallyStat waits for a count the node bumps once it has relayed a
// whole answer, which the client may have read a moment earlier.
func eventuallyStat(t *testing.T, n *testNode, stat func(Stats) int64, want int64) {
	t.Helper()
	assert.Eventually(t, func() bool { return stat(n.Stats()) == want }, 2*time.Second, time.Millisecond,
		"%s: stat stays at %d, want %d", n.self.ID, stat(n.Stats()), want)
}

// signedRequest is a request to node to as node from would forward it,
// with edits applied after signing.
func signedRequest(t *testing.T, to *testNode, from, secret string, ts time.Time, session, body string, edit func(r *http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, to.srv.URL+"/v1/turn?session="+session, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Tenant", "t")
	digest := sha256.Sum256([]byte(body))
	s := signature{node: from, ts: ts.UnixMilli()}
	s.mac = newSigner([]byte(secret)).mac(from, to.self.ID, s.ts, http.MethodPost, req.URL.RequestURI(), "t", session, &digest)
	req.Header.Set(HeaderForward, string(appendSignature(nil, &s)))
	if edit != nil {
		edit(req)
	}
	return req
}

// TestRouteRefusesBadForwards: only a fresh, exact signature under the
// cluster's secret is served as forwarded.
func TestRouteRefusesBadForwards(t *testing.T) {
	_, _, b := twoNodes(t, ForwarderConfig{})
	now := time.Now()
	tests := []struct {
		name       string
		secret     string
		ts         time.Time
		edit       func(r *http.Request)
		wantStatus int
		wantCode   string
	}{
		{name: "other secret", secret: "another-secret-0123456789", ts: now, wantStatus: 401, wantCode: "invalid_forward_signature"},
		{name: "malformed", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.Header.Set(HeaderForward, "v1,n=a,t=1,s=xyz") }},
		{name: "two headers", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.Header.Add(HeaderForward, r.Header.Get(HeaderForward)) }},
		{name: "body changed", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("evil")); r.ContentLength = 4 }},
		{name: "tenant changed", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.Header.Set("X-Tenant", "u") }},
		{name: "session changed", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.URL.RawQuery = "session=other" }},
		{name: "method changed", secret: testSecret, ts: now, wantStatus: 401, wantCode: "invalid_forward_signature",
			edit: func(r *http.Request) { r.Method = http.MethodPut }},
		{name: "expired", secret: testSecret, ts: now.Add(-DefaultWindow - time.Second), wantStatus: 403, wantCode: "forward_expired"},
		{name: "from the future", secret: testSecret, ts: now.Add(DefaultWindow + time.Second), wantStatus: 403, wantCode: "forward_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := signedRequest(t, b, "a", tt.secret, tt.ts, "s1", "hello", tt.edit)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Equal(t, tt.wantCode, e.Error.Code)
			assert.NotEmpty(t, e.Error.Type)
			assert.NotEmpty(t, e.Error.Message)
		})
	}
	assert.Zero(t, b.hits.Load(), "nothing refused reached the local handler")
	st := b.Stats()
	assert.EqualValues(t, 7, st.BadSignatures)
	assert.EqualValues(t, 2, st.Stale)

	// Signed for another receiver: refused.
	req := signedRequest(t, b, "a", testSecret, now, "s1", "hello", nil)
	s, _ := parseSignature(req.Header.Get(HeaderForward))
	digest := sha256.Sum256([]byte("hello"))
	s.mac = newSigner([]byte(testSecret)).mac("a", "c", s.ts, http.MethodPost, req.URL.RequestURI(), "t", "s1", &digest)
	req.Header.Set(HeaderForward, string(appendSignature(nil, &s)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// A good one is served once; its replay is refused.
	good := signedRequest(t, b, "a", testSecret, now, "s1", "hello", nil)
	sig := good.Header.Get(HeaderForward)
	resp, err = http.DefaultClient.Do(good)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	replay := signedRequest(t, b, "a", testSecret, now, "s1", "hello", func(r *http.Request) { r.Header.Set(HeaderForward, sig) })
	resp, err = http.DefaultClient.Do(replay)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.EqualValues(t, 1, b.hits.Load())
}

// TestRouteUnkeyedStripsHeader: a request without a session is served
// locally, and a forged forward header does not reach the handler.
func TestRouteUnkeyedStripsHeader(t *testing.T) {
	_, a, _ := twoNodes(t, ForwarderConfig{})
	var hdr atomic.Value
	a.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr.Store(r.Header.Get(HeaderForward))
		_, by := ForwardedBy(r.Context())
		assert.False(t, by)
	}))
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/v1/models", nil)
	req.Header.Set(HeaderForward, "v1,n=x,t=1,s=forged")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "", hdr.Load())
}

// TestRouteUnreachableOwner: a dead owner (connection refused) is
// suspected and the turn is served by the next owner, once, with its
// body; later turns do not try the dead node again.
func TestRouteUnreachableOwner(t *testing.T) {
	be := newMemBackend()
	a := newTestNode(t, be, "a", ForwarderConfig{})
	b := newTestNode(t, be, "b", ForwarderConfig{})
	c := newTestNode(t, be, "c", ForwarderConfig{})
	waitMembers(t, 3, a.runningRing, b.runningRing, c.runningRing)
	s := sessionOwnedBy(t, a.Ring, "t", "c")
	c.srv.Close() // c's gateway is gone; its record lives on for a TTL

	resp := post(t, a, s, "turn 2")
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	by := resp.Header.Get("X-Served-By")
	require.Contains(t, []string{"a", "b"}, by)
	n := map[string]*testNode{"a": a, "b": b}[by]
	assert.Equal(t, "turn 2", nextServed(t, n).body)
	assert.EqualValues(t, 1, a.hits.Load()+b.hits.Load(), "served once")
	st := a.Stats()
	assert.EqualValues(t, 1, st.DialErrors)
	assert.EqualValues(t, 1, st.Moves)
	assert.True(t, a.Suspected("c"))
	assert.Equal(t, by, be.recorded(a.Ring, "t", s), "the new owner is recorded")

	resp = post(t, a, s, "turn 3")
	assert.Equal(t, by, resp.Header.Get("X-Served-By"))
	assert.EqualValues(t, 1, a.Stats().DialErrors, "the dead owner is not dialled again")
}

// TestRouteAllUnreachable: after MaxForwards unreachable owners the turn
// is served locally.
func TestRouteAllUnreachable(t *testing.T) {
	be := newMemBackend()
	fc := ForwarderConfig{MaxForwards: 2}
	a := newTestNode(t, be, "a", fc)
	b := newTestNode(t, be, "b", fc)
	c := newTestNode(t, be, "c", fc)
	waitMembers(t, 3, a.runningRing, b.runningRing, c.runningRing)
	// Sessions placed on b with c as second choice, or the other way round,
	// need both down; close both.
	b.srv.Close()
	c.srv.Close()
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	resp := post(t, a, s, "x")
	assert.Equal(t, "a", resp.Header.Get("X-Served-By"))
	assert.Equal(t, "x", nextServed(t, a).body)
	st := a.Stats()
	assert.EqualValues(t, 1, st.Fallbacks)
	assert.GreaterOrEqual(t, st.DialErrors, int64(1))
}

// TestRouteBrokenConnection: an owner that drops the connection before
// answering gets the turn served locally, with the same idempotency key
// the owner saw, so that the engine answers a turn it stored from the
// store.
func TestRouteBrokenConnection(t *testing.T) {
	_, a, b := twoNodes(t, ForwarderConfig{})
	keys := make(chan string, 1)
	b.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get(HeaderIdempotencyKey)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	resp := post(t, a, s, "x")
	assert.Equal(t, "a", resp.Header.Get("X-Served-By"))
	got := nextServed(t, a)
	assert.Equal(t, "x", got.body)
	assert.Equal(t, <-keys, got.idem)
	st := a.Stats()
	assert.EqualValues(t, 1, st.TransportErrors)
	assert.EqualValues(t, 1, st.Fallbacks)
	assert.False(t, a.Suspected("b"), "a live owner is not suspected")
}

// TestRouteLargeBodyServedLocally: a body over MaxBody is not forwarded.
func TestRouteLargeBodyServedLocally(t *testing.T) {
	_, a, _ := twoNodes(t, ForwarderConfig{MaxBody: 8})
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	resp := post(t, a, s, "0123456789")
	assert.Equal(t, "a", resp.Header.Get("X-Served-By"))
	assert.Equal(t, "0123456789", nextServed(t, a).body, "the whole body reaches the local handler")
	assert.Zero(t, a.Stats().Forwards)
}

func TestForwarderConfig(t *testing.T) {
	r, err := New(Config{ID: "x"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		give    ForwarderConfig
		wantErr string
	}{
		{"no secret", ForwarderConfig{}, "secret"},
		{"short secret", ForwarderConfig{Secret: []byte("short")}, "secret"},
		{"tiny window", ForwarderConfig{Secret: []byte(testSecret), Window: time.Millisecond}, "window"},
		{"negative body", ForwarderConfig{Secret: []byte(testSecret), MaxBody: -1}, "max body"},
		{"negative forwards", ForwarderConfig{Secret: []byte(testSecret), MaxForwards: -1}, "max forwards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewForwarder(r, tt.give)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	f, err := NewForwarder(r, ForwarderConfig{Secret: []byte(testSecret)})
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, DefaultWindow, f.cfg.Window)
	assert.EqualValues(t, DefaultMaxBody, f.cfg.MaxBody)
	assert.Equal(t, DefaultMaxForwards, f.cfg.MaxForwards)
}

func TestIsDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = (&http.Transport{}).RoundTrip(must(http.NewRequest(http.MethodGet, "http://"+addr, nil)))
	assert.True(t, isDialError(err), "%v", err)
	assert.False(t, isDialError(io.ErrUnexpectedEOF))
	assert.False(t, isDialError(context.Canceled))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzRouteForwardHeader: whatever a client puts in the forward header,
// the request is refused with 401 or 403 and never reaches the handler.
func FuzzRouteForwardHeader(f *testing.F) {
	f.Add("v1,n=a,t=1,s=" + strings.Repeat("A", 43))
	f.Add("v1,n=a,t=9223372036854775807,s=" + strings.Repeat("_", 43))
	f.Add("")
	f.Add("v1,n=b,t=0,s=\x00")
	r, err := New(Config{ID: "b"})
	if err != nil {
		f.Fatal(err)
	}
	fw, err := NewForwarder(r, ForwarderConfig{Secret: []byte(testSecret)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req, err := http.NewRequest(http.MethodPost, "http://b/v1/turn", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header[HeaderForward] = []string{v}
		rec := &recorder{header: http.Header{}}
		fw.Route(rec, req, "t", "s", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			t.Fatalf("header %q reached the handler", v)
		}))
		if rec.status != http.StatusUnauthorized && rec.status != http.StatusForbidden {
			t.Fatalf("header %q: status %d", v, rec.status)
		}
	})
}

// recorder is a minimal ResponseWriter (httptest.ResponseRecorder's
// bookkeeping is more than a fuzz loop needs).
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }
