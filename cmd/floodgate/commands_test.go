package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/gateway"
)

// lines is an io.Writer that collects complete lines and lets a test wait
// for one, since commands print to stdout while they run.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor returns the first line starting with prefix, waiting up to 20s.
func (l *lines) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no line starting with %q in:\n%s", prefix, l.String())
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestCommands(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, writeFile(bad, "endpoints: [{name: a, bogus: 1}]\n"))
	tests := []struct {
		name    string
		give    []string
		want    string // in stdout
		wantErr string
	}{
		{name: "config check ok", give: []string{"config", "check", "../../examples/vllm.yaml"}, want: "ok: 2 endpoints"},
		{name: "config check bad", give: []string{"config", "check", bad}, wantErr: "unknown key endpoints[0].bogus"},
		{name: "config usage", give: []string{"config"}, wantErr: "usage"},
		{name: "key hash", give: []string{"key", "hash", "fg-bench"}, want: "sha256:" + gateway.HashKey("fg-bench")},
		{name: "key new", give: []string{"key", "new"}, want: "key:  fg-"},
		{name: "version", give: []string{"version"}, want: "floodgate dev"},
		{name: "unknown", give: []string{"frobnicate"}, wantErr: "usage"},
		{name: "no command", give: nil, wantErr: "usage"},
		{name: "serve stray arg", give: []string{"serve", "extra"}, wantErr: "unexpected argument"},
		{name: "sim bad flag", give: []string{"sim", "--rpm", "large=x"}, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.give, &out, &errOut)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error()+errOut.String(), tt.wantErr)
				return
			}
			require.NoError(t, err, errOut.String())
			assert.Contains(t, out.String(), tt.want)
		})
	}
}

func TestSimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := newLines()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--time-scale", "0", "--rpm", "large=1"}, stdout, discard{})
	}()
	line := stdout.waitFor(t, "sim serving on ")
	base := strings.Fields(strings.TrimPrefix(line, "sim serving on "))[0]

	post := func() int {
		resp, err := http.Post(base+"/chat/completions", "application/json",
			strings.NewReader(`{"model":"large","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post())
	assert.Equal(t, 429, post(), "--rpm large=1 limits the second request of the minute")

	cancel()
	require.NoError(t, <-done)
}
