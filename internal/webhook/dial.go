package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a webhook would connect to an
// address a tenant must not reach through floodgate.
var ErrForbiddenAddress = errors.New("webhook: the address is not public")

// Public reports whether addr is an address a tenant-supplied webhook may
// reach: not loopback, private (RFC 1918, unique-local IPv6), link-local
// (where cloud metadata services live), shared (100.64.0.0/10, carrier
// NAT), unspecified or multicast.
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsValid() && !addr.IsLoopback() && !addr.IsPrivate() && !addr.IsLinkLocalUnicast() &&
		!addr.IsLinkLocalMulticast() && !addr.IsInterfaceLocalMulticast() && !addr.IsMulticast() &&
		!addr.IsUnspecified() && !sharedNAT.Contains(addr)
}

var sharedNAT = netip.MustParsePrefix("100.64.0.0/10")

// publicOnly is a net.Dialer Control function: it runs after name
// resolution, on the address about to be dialled, so that a host name
// that resolves (or is re-bound) to an internal address is refused too.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// Client returns the HTTP client floodgate posts webhooks with: timeout
// per attempt, no proxy from the environment (the address checked must be
// the one dialled) and, unless allowPrivate, connections to public
// addresses only, so that a tenant cannot make floodgate call its own
// network (server-side request forgery). Allow private addresses only
// when every webhook URL is the operator's.
func Client(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = publicOnly
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        100,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		// A redirect is dialled through the same check.
	}
}
