package ring

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemberRoundTrip(t *testing.T) {
	m := Member{ID: "n-1", URL: "http://10.0.0.5:8080", Started: time.UnixMilli(1767225600123), Load: 7}
	b, err := m.encode()
	require.NoError(t, err)
	got, err := decodeMember(b)
	require.NoError(t, err)
	assert.Equal(t, m.ID, got.ID)
	assert.Equal(t, m.URL, got.URL)
	assert.True(t, m.Started.Equal(got.Started))
	assert.Equal(t, m.Load, got.Load)
}

func TestDecodeMemberRefuses(t *testing.T) {
	tests := []struct {
		name, give string
	}{
		{"not json", `nope`},
		{"no id", `{"url":"http://a:1"}`},
		{"bad id", `{"id":"a b","url":"http://a:1"}`},
		{"no url", `{"id":"a"}`},
		{"url with path", `{"id":"a","url":"http://a:1/x"}`},
		{"url with query", `{"id":"a","url":"http://a:1?x"}`},
		{"other scheme", `{"id":"a","url":"ftp://a:1"}`},
		{"no host", `{"id":"a","url":"http://"}`},
		{"user info", `{"id":"a","url":"http://u:p@a:1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMember([]byte(tt.give))
			assert.Error(t, err)
		})
	}
	m, err := decodeMember([]byte(`{"id":"a","url":"https://a:1/","load":-5}`))
	require.NoError(t, err)
	assert.Zero(t, m.Load, "negative load clamped")
}

// FuzzDecodeMember: a record another node (or anything with access to the
// Redis) wrote never panics the reader, and what is accepted is usable.
func FuzzDecodeMember(f *testing.F) {
	f.Add([]byte(`{"id":"n1","url":"http://127.0.0.1:8080","started":1767225600123,"load":3}`))
	f.Add([]byte(`{"id":"","url":""}`))
	f.Add([]byte(`{"id":"n1","url":"http://[::1]:80","load":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMember(b)
		if err != nil {
			return
		}
		if checkID(m.ID) != nil || m.Load < 0 {
			t.Fatalf("accepted %+v", m)
		}
		if _, err := parseBaseURL(m.URL); err != nil {
			t.Fatalf("accepted URL %q: %v", m.URL, err)
		}
	})
}

func TestConfigNormalize(t *testing.T) {
	tests := []struct {
		name    string
		give    Config
		dist    bool
		wantErr string
	}{
		{name: "defaults single", give: Config{}},
		{name: "defaults distributed", give: Config{URL: "http://10.0.0.1:8080"}, dist: true},
		{name: "no url", give: Config{}, dist: true, wantErr: "URL is required"},
		{name: "url path", give: Config{URL: "http://a:1/gw"}, dist: true, wantErr: "no path"},
		{name: "bad id", give: Config{ID: "a/b"}, wantErr: "node id"},
		{name: "long id", give: Config{ID: strings.Repeat("a", 129)}, wantErr: "node id"},
		{name: "short ttl", give: Config{TTL: time.Millisecond}, wantErr: "TTL"},
		{name: "owner ttl", give: Config{TTL: time.Second, OwnerTTL: time.Second}, wantErr: "OwnerTTL"},
		{name: "load factor", give: Config{LoadFactor: 1}, wantErr: "LoadFactor"},
		{name: "load factor nan", give: Config{LoadFactor: nan()}, wantErr: "LoadFactor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.give
			err := c.normalize(tt.dist)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.NoError(t, checkID(c.ID))
			assert.Equal(t, DefaultTTL, c.TTL)
			assert.Equal(t, DefaultOwnerTTL, c.OwnerTTL)
			assert.Equal(t, DefaultLoadFactor, c.LoadFactor)
			assert.Equal(t, DefaultPrefix, c.Prefix)
		})
	}
	a, b := Config{}, Config{}
	require.NoError(t, a.normalize(false))
	require.NoError(t, b.normalize(false))
	assert.NotEqual(t, a.ID, b.ID, "generated ids are unique per start")
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestNewWraps(t *testing.T) {
	_, err := New(Config{ID: "bad id"})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewForwarder(nil, ForwarderConfig{})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
