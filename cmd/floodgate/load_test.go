package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/load"
)

// TestLoadKeys runs `floodgate load --keys` against a server that sheds the
// free tier, and reads the per-key breakdown back from the JSON report.
func TestLoadKeys(t *testing.T) {
	var mu sync.Mutex
	auth := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth[r.Header.Get("Authorization")]++
		mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer fg-free" {
			w.Header().Set(load.HeaderDegraded, "shed")
		}
		_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "--target", srv.URL + "/v1", "--rate", "200", "--duration", "200ms",
		"--keys", "vip=fg-vip:1,free=fg-free:1", "--seed", "5", "--quiet", "--out", out}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var rep load.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Keys, 2)
	vip, free := rep.Keys["vip"], rep.Keys["free"]
	assert.Equal(t, int64(40), vip.Requests+free.Requests)
	assert.Equal(t, int64(auth["Bearer fg-vip"]), vip.Requests)
	assert.Equal(t, int64(auth["Bearer fg-free"]), free.Requests)
	assert.Equal(t, int64(0), vip.Degraded)
	assert.Equal(t, free.Requests, free.Degraded)
	assert.Equal(t, map[string]int64{"shed": free.Requests}, free.DegradedReasons)
	assert.Equal(t, 0.5, vip.Weight)
	assert.Contains(t, stdout.String(), "wait ms")
	assert.NotContains(t, string(b)+stdout.String(), "fg-vip", "a report never shows a key")
}

func TestLoadFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{"bad keys", []string{"--keys", "vip=K1"}, "no :weight"},
		{"key and keys", []string{"--key", "k", "--keys", "vip=K1:1"}, "mutually exclusive"},
		{"agent and stream", []string{"--agent", "support", "--stream"}, "not streamed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"load", "--quiet", "--duration", "1ms"}, tt.give...), &stdout, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error()+stderr.String(), tt.wantErr)
		})
	}
}
