package ring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HeaderForward carries a forwarded request's signature:
// "v1,n=<node id>,t=<Unix ms>,s=<base64url HMAC-SHA256>". Its presence is
// also what stops a request from being forwarded twice.
const HeaderForward = "X-Floodgate-Forward"

// sigPrefix starts every signature header value this version writes.
const sigPrefix = "v1,n="

// maxSigLen bounds a header value worth parsing: the prefix, an id, a
// timestamp, the MAC and the separators.
const maxSigLen = len(sigPrefix) + maxIDLen + len(",t=") + 19 + len(",s=") + 43

// sigEncoding is unpadded base64url: a MAC is always 43 characters.
var sigEncoding = base64.RawURLEncoding

var errBadSignature = errors.New("malformed signature header")

// signature is a parsed HeaderForward value.
type signature struct {
	node string
	ts   int64 // Unix ms
	mac  [sha256.Size]byte
}

// parseSignature reads a HeaderForward value, refusing anything but the
// exact form appendSignature writes: fields in order, an id of the allowed
// characters, a decimal timestamp without sign or leading zero, and a MAC
// of exactly 32 bytes.
func parseSignature(v string) (signature, error) {
	var s signature
	if len(v) > maxSigLen {
		return s, errBadSignature
	}
	rest, ok := strings.CutPrefix(v, sigPrefix)
	if !ok {
		return s, errBadSignature
	}
	node, rest, ok := strings.Cut(rest, ",t=")
	if !ok || checkID(node) != nil {
		return s, errBadSignature
	}
	ts, mac, ok := strings.Cut(rest, ",s=")
	if !ok || len(ts) == 0 || len(ts) > 19 || (ts[0] == '0' && len(ts) > 1) {
		return s, errBadSignature
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return s, errBadSignature
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return s, errBadSignature
	}
	if len(mac) != sigEncoding.EncodedLen(sha256.Size) {
		return s, errBadSignature
	}
	if k, err := sigEncoding.Strict().Decode(s.mac[:], []byte(mac)); err != nil || k != sha256.Size {
		return s, errBadSignature
	}
	s.node, s.ts = node, n
	return s, nil
}

// appendSignature appends the header value of s.
func appendSignature(dst []byte, s *signature) []byte {
	dst = append(dst, sigPrefix...)
	dst = append(dst, s.node...)
	dst = append(dst, ",t="...)
	dst = strconv.AppendInt(dst, s.ts, 10)
	dst = append(dst, ",s="...)
	return sigEncoding.AppendEncode(dst, s.mac[:])
}

// signer computes MACs under one secret with pooled HMAC states.
type signer struct {
	pool sync.Pool // *macState
}

type macState struct {
	h   hash.Hash
	buf []byte
}

func newSigner(secret []byte) *signer {
	key := append([]byte(nil), secret...)
	s := &signer{}
	s.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 256)} }
	return s
}

// mac signs a forwarded request: the sending node, the node it is sent
// to, the timestamp, the method, the request URI, the tenant and session
// it is routed by and the body's digest, each length-delimited so that no
// two requests share a message. Binding the receiver stops a captured
// request from being replayed to another node.
func (s *signer) mac(from, to string, ts int64, method, uri, tenant, session string, body *[sha256.Size]byte) [sha256.Size]byte {
	st := s.pool.Get().(*macState)
	b := append(st.buf[:0], "floodgate-forward/v1"...)
	for _, f := range [...]string{from, to, method, uri, tenant, session} {
		b = append(b, 0)
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
	}
	b = append(b, 0)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, 0)
	b = append(b, body[:]...)
	st.h.Reset()
	st.h.Write(b)
	var out [sha256.Size]byte
	st.h.Sum(out[:0])
	if cap(b) <= 4<<10 {
		st.buf = b
	}
	s.pool.Put(st)
	return out
}

// replayCache remembers the signatures accepted recently, so that each is
// accepted once. It keeps two generations and rotates them every period:
// an entry is remembered for between one and two periods. With period
// twice the replay window, a signature is remembered for as long as its
// timestamp is acceptable (at most a window on either side of now).
type replayCache struct {
	period int64 // ns

	mu        sync.Mutex
	cur, prev map[[16]byte]struct{}
	rotated   int64 // Unix ns
}

func newReplayCache(period time.Duration, now int64) *replayCache {
	return &replayCache{period: int64(period), cur: map[[16]byte]struct{}{}, prev: map[[16]byte]struct{}{}, rotated: now}
}

// fresh records mac and reports whether it had not been seen. Half the MAC
// is the key: 128 bits do not collide by chance.
func (c *replayCache) fresh(mac *[sha256.Size]byte, now int64) bool {
	k := [16]byte(mac[:16])
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := now - c.rotated; d >= c.period {
		if d >= 2*c.period {
			clear(c.cur)
		}
		c.prev, c.cur = c.cur, c.prev
		clear(c.cur)
		c.rotated = now
	}
	if _, ok := c.cur[k]; ok {
		return false
	}
	if _, ok := c.prev[k]; ok {
		return false
	}
	c.cur[k] = struct{}{}
	return true
}
