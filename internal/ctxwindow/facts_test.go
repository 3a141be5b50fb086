package ctxwindow

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func found(kind, v string) Found { return Found{Kind: kind, Value: v, Key: v, Source: "user"} }

func TestFactsMentionDedupAndOrder(t *testing.T) {
	var f Facts
	f.Mention(found(KindOrder, "100123"), 1)
	f.Mention(Found{Kind: KindAmount, Value: "€42.50", Key: "EUR 42.50", Source: "user"}, 1)
	f.Mention(found(KindOrder, "100456"), 3)
	f.Mention(Found{Kind: KindAmount, Value: "42.50 EUR", Key: "EUR 42.50", Source: "tool:create_return"}, 4)
	f.Mention(found(KindOrder, "100123"), 7)
	require.Equal(t, 3, f.Len())
	list := f.List()
	assert.Equal(t, Fact{Kind: KindOrder, Value: "100123", Key: "100123", First: 1, Last: 7, Source: "user"}, list[0])
	assert.Equal(t, Fact{Kind: KindAmount, Value: "€42.50", Key: "EUR 42.50", First: 1, Last: 4, Source: "user"}, list[1],
		"the first writing and source stay")
	assert.Equal(t, "Facts pinned from earlier turns (exact values, earliest first; quote them verbatim):\n"+
		"- order numbers: 100123, 100456 (latest: 100123)\n"+
		"- amounts: €42.50", f.Render())

	g, err := DecodeFacts(f.Encode())
	require.NoError(t, err)
	assert.Equal(t, f.List(), g.List(), "Encode and DecodeFacts round-trip")
	assert.True(t, g.Has(KindAmount, "EUR 42.50"))
}

func TestFactsBoundDropsLeastRecentlyMentioned(t *testing.T) {
	var f Facts
	f.Mention(found(KindOrder, "100001"), 1) // mentioned again at 9: stays
	f.Mention(found(KindOrder, "100002"), 2)
	f.Mention(found(KindEmail, "a@b.de"), 3)
	f.Mention(found(KindOrder, "100003"), 5)
	f.Mention(found(KindOrder, "100001"), 9)
	assert.Equal(t, 2, f.Bound(2))
	var got []string
	for _, x := range f.List() {
		got = append(got, x.Value)
	}
	assert.Equal(t, []string{"100001", "100003"}, got, "first-mention order kept")
	assert.False(t, f.Has(KindOrder, "100002"))
	assert.False(t, f.Has(KindEmail, "a@b.de"))
	assert.True(t, f.Has(KindOrder, "100001"))
	assert.Equal(t, 0, f.Bound(2))
}

func TestDecodeFactsTolerates(t *testing.T) {
	tests := []struct {
		give    string
		wantLen int
		wantErr bool
	}{
		{give: "", wantLen: 0},
		{give: "null", wantLen: 0},
		{give: `{"a":1}`, wantLen: 0, wantErr: true},
		{give: `[{"kind":"","value":"x"},{"kind":"order_number","value":"100123"}]`, wantLen: 1},
	}
	for _, tt := range tests {
		f, err := DecodeFacts(json.RawMessage(tt.give))
		assert.Equal(t, tt.wantErr, err != nil, tt.give)
		assert.Equal(t, tt.wantLen, f.Len(), tt.give)
	}
	var empty Facts
	assert.Nil(t, empty.Encode())
	assert.Empty(t, empty.Render())
}

func TestBlocks(t *testing.T) {
	var f Facts
	assert.Empty(t, Blocks(&f, ""))
	assert.Equal(t, summaryLabel+"\nThe customer asked twice.", Blocks(nil, "The customer asked twice."))
	f.Mention(found(KindOrder, "100123"), 1)
	b := Blocks(&f, "The customer asked twice.")
	assert.Less(t, indexOf(b, "100123"), indexOf(b, "asked twice"), "facts come before the summary")
	assert.NotContains(t, b, "ummar", "nothing reads as a request to summarise")
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// FuzzScanFacts checks the fast facts reader against encoding/json:
// whenever it accepts an input, it reads what json.Unmarshal reads.
func FuzzScanFacts(f *testing.F) {
	var seed Facts
	seed.Mention(Found{Kind: KindOrder, Value: "100123", Key: "100123", Source: "user"}, 1)
	seed.Mention(Found{Kind: KindAmount, Value: "€42.50", Key: "EUR 42.50", Source: "tool:x"}, 12)
	f.Add([]byte(seed.Encode()))
	f.Add([]byte(`[{"kind":"a","value":"b","first_turn":0}]`))
	f.Add([]byte(` [ { } , {"key":"k"} ] `))
	f.Add([]byte(`[{"kind":"a","value":"b","first_turn":01}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanFacts(b)
		if !ok {
			return
		}
		var want []Fact
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("scanFacts accepted %q, encoding/json: %v", b, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d facts, encoding/json %d", b, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: fact %d = %+v, encoding/json %+v", b, i, got[i], want[i])
			}
		}
	})
}
