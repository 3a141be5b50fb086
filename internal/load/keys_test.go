package load

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    string
		want    []Key
		wantErr string
	}{
		{
			name: "tiers",
			give: "vip=K1:0.1,standard=K2:0.6,free=K3:0.3",
			want: []Key{{"vip", "K1", 0.1}, {"standard", "K2", 0.6}, {"free", "K3", 0.3}},
		},
		{
			name: "spaces, colons and equals in keys, unnormalised weights",
			give: " vip = fg-a:b=c : 1 , free=fg-x:3 ",
			want: []Key{{"vip", "fg-a:b=c", 1}, {"free", "fg-x", 3}},
		},
		{name: "one key", give: "t.1_a-b=k:2e-3", want: []Key{{"t.1_a-b", "k", 0.002}}},
		{name: "empty", give: " ", wantErr: "empty"},
		{name: "no equals", give: "vip:0.1", wantErr: "not label=key:weight"},
		{name: "no weight", give: "vip=K1", wantErr: "no :weight"},
		{name: "bad weight", give: "vip=K1:x", wantErr: "weight of \"vip\""},
		{name: "zero weight", give: "vip=K1:0", wantErr: "weight 0"},
		{name: "negative weight", give: "vip=K1:-1", wantErr: "weight -1"},
		{name: "NaN weight", give: "vip=K1:NaN", wantErr: "weight NaN"},
		{name: "infinite weight", give: "vip=K1:+Inf", wantErr: "weight +Inf"},
		{name: "weights overflow", give: "a=K1:1e308,b=K2:1e308", wantErr: "sum to infinity"},
		{name: "empty label", give: "=K1:1", wantErr: "label \"\""},
		{name: "bad label", give: "v i p=K1:1", wantErr: "label \"v i p\""},
		{name: "empty key", give: "vip=:1", wantErr: "key is empty"},
		{name: "key with space", give: "vip=K 1:1", wantErr: "key is empty or has spaces"},
		{name: "duplicate label", give: "vip=K1:1,vip=K2:1", wantErr: "given twice"},
		{name: "trailing comma", give: "vip=K1:1,", wantErr: "not label=key:weight"},
		{name: "too many", give: strings.Repeat("a=k:1,", 65) + "b=k:1", wantErr: "more than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKeys(tt.give)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeys(%q) = %v, %v; want an ErrConfig containing %q", tt.give, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseKeys(%q) (-want +got):\n%s", tt.give, d)
			}
		})
	}
}

func TestParseKeysErrorHidesKey(t *testing.T) {
	t.Parallel()
	_, err := ParseKeys("vip=sk-secret-value:0")
	if err == nil || strings.Contains(err.Error(), "sk-secret") {
		t.Errorf("err = %v, want an error that does not quote the key", err)
	}
}

// FuzzParseKeys checks that ParseKeys either fails with ErrConfig or
// returns a valid mix that reads back the same from its own rendering.
func FuzzParseKeys(f *testing.F) {
	f.Add("vip=K1:0.1,standard=K2:0.6,free=K3:0.3")
	f.Add(" a = k:x=y : 1e-3 ")
	f.Add("a=k:1,a=k:2")
	f.Add("a=k:NaN")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > maxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		if err := validateKeys(keys); err != nil {
			t.Fatalf("ParseKeys returned an invalid mix: %v", err)
		}
		items := make([]string, len(keys))
		var sum float64
		for i, k := range keys {
			items[i] = k.Label + "=" + k.Key + ":" + strconv.FormatFloat(k.Weight, 'g', -1, 64)
		}
		for _, w := range normalizedWeights(keys) {
			if !(w > 0) || w > 1 {
				t.Fatalf("normalised weight %v", w)
			}
			sum += w
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("normalised weights sum to %v", sum)
		}
		back, err := ParseKeys(strings.Join(items, ","))
		if err != nil {
			t.Fatalf("rendering %q does not parse: %v", strings.Join(items, ","), err)
		}
		if d := cmp.Diff(keys, back); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
		p := newKeyPicker(keys, 1)
		for seq := range uint64(16) {
			if i := p.pick(seq); i < 0 || i >= len(keys) {
				t.Fatalf("pick(%d) = %d of %d keys", seq, i, len(keys))
			}
		}
	})
}

func TestKeyPickerShares(t *testing.T) {
	t.Parallel()
	keys := []Key{{"vip", "a", 1}, {"standard", "b", 6}, {"free", "c", 3}}
	const n = 200000
	count := func(seed int64) ([]int, []int) {
		p := newKeyPicker(keys, seed)
		shares := make([]int, len(keys))
		seqs := make([]int, 64)
		for seq := range uint64(n) {
			i := p.pick(seq)
			shares[i]++
			if seq < uint64(len(seqs)) {
				seqs[seq] = i
			}
		}
		return shares, seqs
	}
	shares, seq1 := count(1)
	for i, want := range []float64{0.1, 0.6, 0.3} {
		if got := float64(shares[i]) / n; math.Abs(got-want) > 0.005 {
			t.Errorf("%s share %.4f, want %.2f ± 0.005", keys[i].Label, got, want)
		}
	}
	_, again := count(1)
	_, seq2 := count(2)
	if !cmp.Equal(seq1, again) {
		t.Error("the same seed picks other keys")
	}
	if cmp.Equal(seq1, seq2) {
		t.Error("another seed picks the same keys")
	}
	if p := newKeyPicker(nil, 1); p != nil {
		t.Errorf("picker of no keys = %v, want nil", p)
	}
	one := newKeyPicker([]Key{{"only", "k", 0.5}}, 3)
	for seq := range uint64(100) {
		if one.pick(seq) != 0 {
			t.Fatal("a single key is not always picked")
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		give []string
		want time.Duration
	}{
		{nil, -1},
		{[]string{""}, -1},
		{[]string{"2"}, 2 * time.Second},
		{[]string{" 0 "}, 0},
		{[]string{"1.5"}, 1500 * time.Millisecond},
		{[]string{"-1"}, -1},
		{[]string{"NaN"}, -1},
		{[]string{"1e300"}, maxRetryAfter},
		{[]string{"soon"}, -1},
		{[]string{now.Add(30 * time.Second).Format(http.TimeFormat)}, 30 * time.Second},
		{[]string{now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.give, clock); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	f.Add("2")
	f.Add("Fri, 02 Jan 2026 03:04:35 GMT")
	f.Add("-0")
	f.Fuzz(func(t *testing.T, s string) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		d := retryAfter([]string{s}, func() time.Time { return now })
		if d != -1 && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("retryAfter(%q) = %v", s, d)
		}
	})
}

func TestRunStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{`{"run_id":"r","output":"x","status":"degraded","tool_calls":[]}`, "degraded"},
		{`{"run_id": "r", "status" : "failed", "error":{"message":"m"}}`, "failed"},
		{"{\n  \"status\":\n  \"completed\"\n}", "completed"},
		{`{"webhook":{"status":503},"status":"partial"}`, "partial"},
		{`{"output":"my \"status\":\"degraded\" text","status":"completed"}`, "completed"},
		{`{"choices":[{"message":{"content":"status"}}]}`, ""},
		{`{"status":`, ""},
		{`{"status":"unterminated`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := string(runStatus([]byte(tt.give))); got != tt.want {
			t.Errorf("runStatus(%s) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func FuzzRunStatus(f *testing.F) {
	f.Add([]byte(`{"run_id":"r","status":"degraded"}`))
	f.Add([]byte(`{"status" : 5, "x":{"status":"ok"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := runStatus(body)
		if got == nil {
			return
		}
		if strings.ContainsRune(string(got), '"') || !strings.Contains(string(body), `"status"`) ||
			!strings.Contains(string(body), `"`+string(got)+`"`) {
			t.Fatalf("runStatus(%q) = %q", body, got)
		}
	})
}

func TestDegradedHeader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("r", 100)
	tests := []struct {
		give http.Header
		want string
	}{
		{http.Header{}, ""},
		{http.Header{HeaderDegraded: {"shed"}}, "shed"},
		{http.Header{HeaderDegraded: {""}}, ""},
		{http.Header{HeaderDegraded: {long}}, long[:maxReasonLen]},
		{http.Header{HeaderRunStatus: {"degraded"}}, ReasonRunStatus},
		{http.Header{HeaderRunStatus: {"completed"}}, ""},
		{http.Header{HeaderDegraded: {"budget"}, HeaderRunStatus: {"degraded"}}, "budget"},
	}
	for _, tt := range tests {
		if got := degradedHeader(tt.give); got != tt.want {
			t.Errorf("degradedHeader(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
