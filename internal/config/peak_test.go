package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hash64 = strings.Repeat("a", 64)

const peakDoc = `
models:
  - name: large
  - name: small
endpoints:
  - name: a
    base_url: http://127.0.0.1:8000/v1
    models: {large: "", small: ""}
tiers:
  vip: {requests_per_minute: 6000, tokens_per_minute: 2000000, queue_deadline: 5s}
  standard: {requests_per_minute: 600}
  free:
    requests_per_minute: 60
    queue_deadline: 300ms
    peak: {model: small, load_above: 0.7, windows: ["18:00-23:00", "23:30-01:00"], time_zone: Europe/Berlin}
tenants:
  - id: acme
    tier: vip
    keys: [` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `]
    limits: {requests_per_minute: 100}
    budget: {daily: 5.5, monthly: 100}
    prompt_filter: flag
cluster:
  redis_url: redis://127.0.0.1:6379/0
  advertise_url: http://127.0.0.1:8081
  secret: 0123456789abcdef0123
`

func TestPeakConfig(t *testing.T) {
	c, err := Parse([]byte(peakDoc), env(nil))
	require.NoError(t, err)
	vip, free, std := c.Tiers["vip"], c.Tiers["free"], c.Tiers["standard"]
	assert.Equal(t, 6000, vip.RequestsPerMinute, "limits are inline in the tier")
	assert.Equal(t, 2000000, vip.TokensPerMinute)
	assert.Equal(t, 100, vip.Priority)
	assert.Equal(t, 50, std.Priority)
	assert.Equal(t, 10, free.Priority)
	assert.Equal(t, 5*time.Second, vip.QueueDeadline)
	assert.Equal(t, 2*time.Second, std.QueueDeadline)
	assert.Equal(t, "small", free.Peak.Model)
	ten := c.Tenants[0]
	require.NotNil(t, ten.Limits)
	assert.Equal(t, 100, ten.Limits.RequestsPerMinute)
	assert.Equal(t, "flag", ten.PromptFilter)
	assert.Equal(t, "fg:", c.Cluster.Prefix)
	assert.Equal(t, 4096, c.Admission.MaxConcurrent)
	assert.Equal(t, 16384, c.Admission.MaxQueue)
	assert.Equal(t, FilterBlock, c.PromptFilter.Action)
	assert.Equal(t, StoreSQLite, c.Usage.Backend)
}

func TestPeakConfigErrors(t *testing.T) {
	assertEditsFail(t, peakDoc, []docEdit{
		{"unknown peak model", "peak: {model: small", "peak: {model: tiny", `tiers.free.peak.model: unknown model "tiny"`},
		{"bad window", `"18:00-23:00"`, `"18:00-25:00"`, "tiers.free.peak.windows[0]"},
		{"bad zone", "Europe/Berlin", "Mars/Olympus", "tiers.free.peak.time_zone"},
		{"bad load", "load_above: 0.7", "load_above: 1.5", "tiers.free.peak.load_above"},
		{"negative limit", "requests_per_minute: 100}", "requests_per_minute: -1}", "tenants[0].limits"},
		{"bad filter action", "prompt_filter: flag", "prompt_filter: shout", "tenants[0].prompt_filter"},
		{"short secret", "secret: 0123456789abcdef0123", "secret: short", "cluster.secret"},
		{"bad redis url", "redis://127.0.0.1:6379/0", "http://127.0.0.1:6379", "cluster.redis_url"},
		{"negative budget", "daily: 5.5", "daily: -1", "tenants[0].budget"},
		{"expiry of a foreign key", "prompt_filter: flag", "prompt_filter: flag\n    key_expiry: {\"sha256:" + strings.Repeat("b", 64) + "\": 2027-01-01T00:00:00Z}", "tenants[0].key_expiry"},
		{"unknown key in limits", "limits: {requests_per_minute: 100}", "limits: {rpm: 100}", "unknown key"},
	})
}

func TestParseWindow(t *testing.T) {
	s, e, err := ParseWindow("22:30-06:00")
	require.NoError(t, err)
	assert.Equal(t, 22*time.Hour+30*time.Minute, s)
	assert.Equal(t, 6*time.Hour, e)
	_, e, err = ParseWindow("00:00-24:00")
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour, e)
	for _, bad := range []string{"", "1:00-2:00", "10:00-10:00", "10:00-24:30", "10:60-11:00", "10:00-11:00x", "aa:bb-cc:dd"} {
		_, _, err := ParseWindow(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"18:00-23:00", "23:30-01:00", "00:00-24:00", "1:00-2:00", "99:99-99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseWindow(s)
		if err != nil {
			return
		}
		if start < 0 || start >= 24*time.Hour || end <= 0 || end > 24*time.Hour || start == end {
			t.Fatalf("ParseWindow(%q) = %v, %v", s, start, end)
		}
	})
}
