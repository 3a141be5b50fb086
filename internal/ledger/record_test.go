package ledger

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestUSDString(t *testing.T) {
	tests := []struct {
		give USD
		want string
	}{
		{0, "0"},
		{1, "0.000000001"},
		{150, "0.00000015"},
		{Dollar, "1"},
		{Dollar + Dollar/2, "1.5"},
		{123456789012, "123.456789012"},
		{-2 * Dollar, "-2"},
		{-1, "-0.000000001"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String(), "%d", int64(tt.give))
		b, err := json.Marshal(tt.give)
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(b))
	}
}

func TestUSDUnmarshal(t *testing.T) {
	tests := []struct {
		give string
		want USD
		err  bool
	}{
		{give: "0", want: 0},
		{give: "1.5", want: 1_500_000_000},
		{give: "0.000000001", want: 1},
		{give: "0.0000000015", want: 2}, // the tenth decimal rounds
		{give: "0.0000000014999", want: 1},
		{give: "-0.25", want: -250_000_000},
		{give: "1.5e-6", want: 1500},
		{give: "9223372036.854775807", want: math.MaxInt64},
		{give: "null", want: 0},
		{give: "9223372037", err: true},
		{give: `"1"`, err: true},
		{give: "1.", err: true},
		{give: ".5", err: true},
		{give: "1e300", err: true},
	}
	for _, tt := range tests {
		var u USD
		err := json.Unmarshal([]byte(tt.give), &u)
		if tt.err {
			assert.Error(t, err, tt.give)
			continue
		}
		require.NoError(t, err, tt.give)
		assert.Equal(t, tt.want, u, tt.give)
	}
}

func TestDollars(t *testing.T) {
	tests := []struct {
		give float64
		want USD
	}{
		{0.000015, 15_000},
		{2.5e-6 * 1234, 3_085_000}, // 1234 tokens at $2.50/M
		{math.NaN(), 0},
		{math.Inf(1), math.MaxInt64},
		{math.Inf(-1), math.MinInt64},
		{-0.1, -100_000_000},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Dollars(tt.give), "%v", tt.give)
	}
}

// FuzzUSD: whatever the decoder accepts, the encoder writes back to the
// same amount.
func FuzzUSD(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-0.000000001", "1e-9", "9223372036.854775807", "00.10", "1.0000000005"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var u USD
		if json.Unmarshal([]byte(s), &u) != nil {
			return
		}
		b, err := json.Marshal(u)
		require.NoError(t, err)
		var v USD
		require.NoError(t, json.Unmarshal(b, &v), "%s", b)
		require.Equal(t, u, v)
	})
}

func TestRecordFill(t *testing.T) {
	at := time.Date(2025, 11, 28, 3, 0, 0, 0, time.FixedZone("x", 3600))
	now := time.Date(2025, 11, 28, 4, 0, 0, 0, time.UTC)
	newID := func() string { return "gen-1" }
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		give Record
		want Record
	}{
		{
			name: "run record takes its run ID",
			give: Record{Kind: KindRun, RunID: "run_1", At: at},
			want: Record{ID: "run_1", Kind: KindRun, RunID: "run_1", At: at.UTC()},
		},
		{
			name: "call of a run",
			give: Record{RunID: "run_1", Call: 3, At: at},
			want: Record{ID: "run_1/3", Kind: KindCall, RunID: "run_1", Call: 3, At: at.UTC()},
		},
		{
			name: "no natural ID, no time",
			give: Record{Kind: "bogus"},
			want: Record{ID: "gen-1", Kind: KindCall, At: now},
		},
		{
			name: "given ID kept",
			give: Record{ID: "chatcmpl-1", RunID: "run_1", Call: 1, At: at},
			want: Record{ID: "chatcmpl-1", Kind: KindCall, RunID: "run_1", Call: 1, At: at.UTC()},
		},
		{
			name: "out of bounds",
			give: Record{ID: "a", At: at, Call: -1, TokensIn: -5, TokensOut: 1 << 50, TokensCached: 9, Cost: -3, Latency: -time.Second},
			want: Record{ID: "a", Kind: KindCall, At: at.UTC(), TokensOut: maxTokens},
		},
		{
			name: "text made storable and bounded",
			give: Record{ID: long, At: at, Tenant: "a\x00b\xff", Agent: long},
			want: Record{ID: "sha256:d3a10a86dba1ca9bc8e43f4d2dd1c1bc5fcd1b1a4f5fc0d65b0a6e8e5ab2d4ec", Kind: KindCall,
				At: at.UTC(), Tenant: "a\uFFFDb\uFFFD", Agent: long[:maxText]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.give
			r.fill(newID, now)
			if strings.HasPrefix(tt.want.ID, "sha256:") {
				assert.True(t, strings.HasPrefix(r.ID, "sha256:"), r.ID)
				assert.Len(t, r.ID, len("sha256:")+64)
				r.ID = tt.want.ID
			}
			assert.Equal(t, tt.want, r)
			assert.NoError(t, r.check())
		})
	}
}

func TestRecordSetters(t *testing.T) {
	var r Record
	r.SetUsage(&llm.Usage{PromptTokens: 120, CompletionTokens: 30,
		PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 100}})
	assert.Equal(t, [3]int64{120, 30, 100}, [3]int64{r.TokensIn, r.TokensOut, r.TokensCached})
	r.SetUsage(nil)
	assert.Equal(t, int64(120), r.TokensIn)

	r.SetError(&llm.Error{Kind: llm.KindTimeout})
	assert.Equal(t, StatusError, r.Status)
	assert.Equal(t, llm.KindTimeout.String(), r.Error)
	r.SetError(nil)
	assert.Equal(t, StatusOK, r.Status)
	assert.Empty(t, r.Error)
}

func TestDecodeBatch(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	good := Record{ID: "a", Kind: KindCall, At: at, Cost: 5}
	body, err := appendBatch(nil, []Record{good, {ID: "", Kind: KindCall, At: at}, {ID: "b", Kind: "x", At: at}})
	require.NoError(t, err)
	recs, rejected, reason, err := decodeBatch(body)
	require.NoError(t, err)
	assert.Equal(t, []Record{good}, recs)
	assert.Equal(t, 2, rejected)
	assert.True(t, errors.Is(reason, errInvalid))

	for _, bad := range []string{`{"v":2,"records":[]}`, `not json`, `{"v":1,"records":[{"cost":"x"}]}`} {
		_, _, _, err := decodeBatch([]byte(bad))
		assert.ErrorIs(t, err, errBadBatch, bad)
	}
}
