package gateway

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Identity is the authenticated caller of a request: its tenant and tier.
// The gateway puts it in the context passed to the Backend; later layers
// (rate limits, admission, the engine) read it with TenantFrom. An Identity
// is shared by all requests of its tenant and must not be modified.
type Identity struct {
	// Tenant is the tenant's ID.
	Tenant string
	// Tier is the tenant's tier name.
	Tier string
	// Lang is the tenant's configured language; "" when none.
	Lang string

	policy *Policy
	guard  *tenantGuard // nil when nothing limits the tenant
}

type identityKey struct{}

// TenantFrom returns the caller of the request ctx belongs to, if the
// gateway authenticated one.
func TenantFrom(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

// WithTenant returns a context carrying id, as the gateway passes it on;
// tests of later layers use it to stand in for the gateway.
func WithTenant(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// Authentication errors, in OpenAI's words.
var (
	errMissingKey = &llm.Error{Kind: llm.KindAuth, Type: llm.TypeInvalidRequest,
		Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or in an api-key header."}
	errInvalidKey = &llm.Error{Kind: llm.KindAuth, Type: llm.TypeInvalidRequest, Code: "invalid_api_key",
		Message: "Incorrect API key provided."}
	errExpiredKey = &llm.Error{Kind: llm.KindAuth, Type: llm.TypeInvalidRequest, Code: "invalid_api_key",
		Message: "The API key provided has expired."}
)

// apiKey returns the key of "Authorization: Bearer <key>" or, as Azure
// OpenAI clients send it, "api-key: <key>".
func apiKey(h http.Header) string {
	if v := h.Get("Authorization"); len(v) > len("bearer ") && strings.EqualFold(v[:len("bearer ")], "bearer ") {
		if k := strings.TrimSpace(v[len("bearer "):]); k != "" {
			return k
		}
	}
	return strings.TrimSpace(h.Get("Api-Key"))
}

// maxKeyLen bounds the keys hashed without allocating; longer keys are
// hashed all the same.
const maxKeyLen = 256

// authenticate finds the caller by the SHA-256 of its key. Looking the
// digest up in a map reveals nothing about stored keys through timing: the
// client controls the key, not its digest.
func (s *Server) authenticate(r *http.Request) (*Identity, *llm.Error) {
	key := apiKey(r.Header)
	if key == "" {
		return nil, errMissingKey
	}
	var sum [sha256.Size]byte
	if len(key) <= maxKeyLen {
		var buf [maxKeyLen]byte
		sum = sha256.Sum256(buf[:copy(buf[:], key)])
	} else {
		sum = sha256.Sum256([]byte(key))
	}
	id, ok := s.keys[sum]
	if !ok {
		return nil, errInvalidKey
	}
	if len(s.expiry) > 0 {
		if at, ok := s.expiry[sum]; ok && !s.cfg.Now().Before(at) {
			return nil, errExpiredKey
		}
	}
	return id, nil
}
