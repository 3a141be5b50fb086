package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPost: the body goes signed, with the caller's headers, and a non-2xx
// answer is an error carrying its status.
func TestPost(t *testing.T) {
	secret, now := []byte("s3cret"), time.Now()
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, `{"a":1}`, string(body))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "ev_1", r.Header.Get("X-Floodgate-Delivery"))
		assert.NoError(t, Verify(secret, r.Header.Get(SignatureHeader), body, now, time.Minute))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	hdr := http.Header{"X-Floodgate-Delivery": {"ev_1"}}
	got, err := Post(context.Background(), srv.Client(), srv.URL, secret, now, []byte(`{"a":1}`), hdr)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, got)

	status = http.StatusBadGateway
	got, err = Post(context.Background(), srv.Client(), srv.URL, secret, now, []byte(`{"a":1}`), hdr)
	assert.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, got)
}
