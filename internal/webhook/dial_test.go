package webhook

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fd00::1", false},
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:8.8.8.8", true},
	} {
		assert.Equal(t, tc.want, Public(netip.MustParseAddr(tc.addr)), tc.addr)
	}
}

// TestClientRefusesInternalAddresses: the default client cannot reach a
// server on loopback, whatever the URL says; one allowing private
// addresses can.
func TestClientRefusesInternalAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, err := Client(time.Second, false).Post(srv.URL, "application/json", nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrForbiddenAddress), "%v", err)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	_, err = Client(time.Second, false).Post("http://localhost:"+port, "application/json", nil)
	assert.ErrorIs(t, err, ErrForbiddenAddress, "a host name resolving to loopback too")

	resp, err := Client(time.Second, true).Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
