package ring

import (
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTTL        = 3 * time.Second
	DefaultOwnerTTL   = 30 * time.Minute
	DefaultLoadFactor = 1.25
	DefaultPrefix     = "fg:"
	DefaultCacheSize  = 1 << 17
	// DefaultLookupTimeout bounds the Redis calls of one owner lookup.
	DefaultLookupTimeout = time.Second
)

// ErrInvalidConfig is wrapped by every error New and NewForwarder return.
var ErrInvalidConfig = errors.New("ring: invalid config")

// maxIDLen bounds a node id; ids travel in headers and Redis keys.
const maxIDLen = 128

// Config configures a Ring. Every zero value means its documented default;
// New normalises and validates it.
type Config struct {
	// ID names this node in the ring: unique per process start, at most
	// 128 characters from [A-Za-z0-9._:-]. Empty means the host name, a
	// dash and 8 random characters.
	ID string
	// URL is the base URL other nodes reach this node's gateway at, such as
	// "http://10.0.0.5:8080": http or https, no path. Required when Redis is
	// set.
	URL string
	// Redis is the server the members meet in; the Ring does not close it.
	// Nil makes a single-member ring: every session is owned by this node
	// and Run only waits for its context.
	Redis goredis.UniversalClient
	// Prefix starts every key and the events channel. Default "fg:". Rings
	// with different prefixes on one server do not see each other.
	Prefix string
	// TTL is how long a member stays in the ring without a heartbeat; it
	// heartbeats every TTL/3. Default 3 s; at least 30 ms.
	TTL time.Duration
	// OwnerTTL is how long a session keeps its recorded owner without a
	// turn. Default 30 min; at least 2 × TTL.
	OwnerTTL time.Duration
	// LoadFactor is c in the load bound ⌈c·(L+1)/n⌉ that new sessions are
	// placed under. Default 1.25; must exceed 1.
	LoadFactor float64
	// Load reports this node's in-flight load (such as requests being
	// served); it is read at every heartbeat and must be safe for
	// concurrent use. Nil reports 0, so that only hashing places sessions.
	Load func() int64
	// LookupTimeout bounds the Redis calls an owner lookup makes on the
	// request path; past it the session is placed by hash alone, so that a
	// stalled Redis does not stall turns. Default 1 s.
	LookupTimeout time.Duration
	// CacheSize bounds the owners this node remembers. Default 131072;
	// negative disables the cache, so that every lookup asks Redis.
	CacheSize int
	// OnChange, if set, is called from Run with the members (sorted by id)
	// whenever a member joins or leaves. It must not block for long.
	OnChange func(members []Member)
	// Logger receives membership changes and Redis errors. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock of the owner cache and suspicions. Nil means
	// time.Now.
	Now func() time.Time
}

// normalize fills the defaults; distributed says the ring has a backend,
// which needs the URL others reach this node at.
func (c *Config) normalize(distributed bool) error {
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = sanitizeID(host) + "-" + randomID(8)
	}
	if err := checkID(c.ID); err != nil {
		return err
	}
	if distributed {
		if c.URL == "" {
			return errors.New("URL is required with Redis")
		}
		if _, err := parseBaseURL(c.URL); err != nil {
			return err
		}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	switch {
	case c.TTL == 0:
		c.TTL = DefaultTTL
	case c.TTL < 30*time.Millisecond:
		return fmt.Errorf("TTL %v: at least 30ms", c.TTL)
	}
	switch {
	case c.OwnerTTL == 0:
		c.OwnerTTL = max(DefaultOwnerTTL, 2*c.TTL)
	case c.OwnerTTL < 2*c.TTL:
		return fmt.Errorf("OwnerTTL %v: at least 2 × TTL", c.OwnerTTL)
	}
	switch {
	case c.LoadFactor == 0:
		c.LoadFactor = DefaultLoadFactor
	case !(c.LoadFactor > 1): // also refuses NaN
		return fmt.Errorf("LoadFactor %v: must exceed 1", c.LoadFactor)
	}
	switch {
	case c.LookupTimeout == 0:
		c.LookupTimeout = DefaultLookupTimeout
	case c.LookupTimeout < 0:
		return fmt.Errorf("LookupTimeout %v: negative", c.LookupTimeout)
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// checkID refuses an id that could not travel in a header or a key as is.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("node id %q: 1 to %d characters", id, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return fmt.Errorf("node id %q: only A-Z a-z 0-9 . _ : -", id)
		}
	}
	return nil
}

func idByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
}

// sanitizeID keeps what a node id may hold of a host name.
func sanitizeID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x80 && idByte(byte(r)) {
			return r
		}
		return -1
	}, s)
	if len(s) > maxIDLen-9 {
		s = s[:maxIDLen-9]
	}
	if s == "" {
		s = "node"
	}
	return s
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomID returns n lower-case base32 characters from crypto/rand.
func randomID(n int) string {
	b := make([]byte, (n*5+7)/8)
	_, _ = crand.Read(b) // never fails (crypto/rand panics instead)
	return strings.ToLower(idEncoding.EncodeToString(b))[:n]
}
