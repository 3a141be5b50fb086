package ring

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignatureRoundTrip(t *testing.T) {
	sg := newSigner([]byte(testSecret))
	body := sha256.Sum256([]byte(`{"session_id":"s1","input":"hi"}`))
	s := signature{node: "node-a.1:x_Y", ts: 1767225600123}
	s.mac = sg.mac(s.node, "node-b", s.ts, "POST", "/v1/agents/support/runs?x=1", "t1", "s1", &body)
	v := string(appendSignature(nil, &s))
	assert.True(t, strings.HasPrefix(v, "v1,n=node-a.1:x_Y,t=1767225600123,s="), v)
	assert.LessOrEqual(t, len(v), maxSigLen)
	got, err := parseSignature(v)
	require.NoError(t, err)
	assert.Equal(t, s, got)
}

func TestParseSignatureRefuses(t *testing.T) {
	good := "v1,n=a,t=1,s=" + strings.Repeat("A", 43)
	_, err := parseSignature(good)
	require.NoError(t, err)
	tests := []struct {
		name, give string
	}{
		{"empty", ""},
		{"other version", "v2,n=a,t=1,s=" + strings.Repeat("A", 43)},
		{"no node", "v1,n=,t=1,s=" + strings.Repeat("A", 43)},
		{"bad node byte", "v1,n=a b,t=1,s=" + strings.Repeat("A", 43)},
		{"node with comma", "v1,n=a,b,t=1,s=" + strings.Repeat("A", 43)},
		{"no timestamp", "v1,n=a,t=,s=" + strings.Repeat("A", 43)},
		{"signed timestamp", "v1,n=a,t=-1,s=" + strings.Repeat("A", 43)},
		{"plus timestamp", "v1,n=a,t=+1,s=" + strings.Repeat("A", 43)},
		{"leading zero", "v1,n=a,t=01,s=" + strings.Repeat("A", 43)},
		{"timestamp overflow", "v1,n=a,t=99999999999999999999,s=" + strings.Repeat("A", 43)},
		{"short mac", "v1,n=a,t=1,s=" + strings.Repeat("A", 42)},
		{"long mac", "v1,n=a,t=1,s=" + strings.Repeat("A", 44)},
		{"padded mac", "v1,n=a,t=1,s=" + strings.Repeat("A", 42) + "="},
		{"std base64 mac", "v1,n=a,t=1,s=" + strings.Repeat("+", 43)},
		{"non-canonical last char", "v1,n=a,t=1,s=" + strings.Repeat("A", 42) + "B"},
		{"fields reordered", "v1,t=1,n=a,s=" + strings.Repeat("A", 43)},
		{"trailing field", good + ",x=1"},
		{"too long", "v1,n=" + strings.Repeat("a", 200) + ",t=1,s=" + strings.Repeat("A", 43)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSignature(tt.give)
			assert.ErrorIs(t, err, errBadSignature)
		})
	}
}

// TestMACCoversEveryField: changing any signed field changes the MAC.
func TestMACCoversEveryField(t *testing.T) {
	sg := newSigner([]byte(testSecret))
	body := sha256.Sum256([]byte("body"))
	other := sha256.Sum256([]byte("bodY"))
	base := sg.mac("a", "b", 1, "POST", "/p", "t", "s", &body)
	tests := []struct {
		name string
		mac  [32]byte
	}{
		{"from", sg.mac("x", "b", 1, "POST", "/p", "t", "s", &body)},
		{"to", sg.mac("a", "x", 1, "POST", "/p", "t", "s", &body)},
		{"timestamp", sg.mac("a", "b", 2, "POST", "/p", "t", "s", &body)},
		{"method", sg.mac("a", "b", 1, "GET", "/p", "t", "s", &body)},
		{"uri", sg.mac("a", "b", 1, "POST", "/p?q", "t", "s", &body)},
		{"tenant", sg.mac("a", "b", 1, "POST", "/p", "u", "s", &body)},
		{"session", sg.mac("a", "b", 1, "POST", "/p", "t", "x", &body)},
		{"fields shifted", sg.mac("a", "b", 1, "POST", "/p", "ts", "", &body)},
		{"body", sg.mac("a", "b", 1, "POST", "/p", "t", "s", &other)},
		{"secret", newSigner([]byte("another-secret-of-16")).mac("a", "b", 1, "POST", "/p", "t", "s", &body)},
	}
	for _, tt := range tests {
		assert.NotEqual(t, base, tt.mac, tt.name)
	}
	assert.Equal(t, base, sg.mac("a", "b", 1, "POST", "/p", "t", "s", &body), "deterministic")
}

func TestReplayCache(t *testing.T) {
	const period = int64(time.Second)
	c := newReplayCache(time.Second, 0)
	a, b := [32]byte{1}, [32]byte{2}
	assert.True(t, c.fresh(&a, 0))
	assert.False(t, c.fresh(&a, 1), "seen")
	assert.True(t, c.fresh(&b, period), "after a rotation: new")
	assert.False(t, c.fresh(&a, period+1), "remembered for one more period")
	assert.True(t, c.fresh(&a, 3*period), "forgotten after two")
	assert.False(t, c.fresh(&a, 3*period+1))
	assert.True(t, c.fresh(&b, 3*period+2), "a long gap forgets everything")
}

// FuzzParseSignature: no input panics, and whatever parses is exactly the
// canonical form appendSignature writes, so that one request has one
// header value.
func FuzzParseSignature(f *testing.F) {
	sg := newSigner([]byte(testSecret))
	body := sha256.Sum256(nil)
	s := signature{node: "node-1", ts: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
	s.mac = sg.mac(s.node, "node-2", s.ts, "POST", "/v1/x", "t", "s", &body)
	f.Add(string(appendSignature(nil, &s)))
	f.Add("v1,n=a,t=0,s=" + strings.Repeat("_", 43))
	f.Add("v1,n=a,t=,s=")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseSignature(v)
		if err != nil {
			return
		}
		if out := string(appendSignature(nil, &got)); out != v {
			t.Fatalf("parsed %q, re-encoded %q", v, out)
		}
		if checkID(got.node) != nil || got.ts < 0 {
			t.Fatalf("parsed an invalid signature: %+v", got)
		}
	})
}
