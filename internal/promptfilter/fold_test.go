package promptfilter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"ascii lower", "Ignore PREVIOUS", "ignore previous"},
		{"accents", "Précédentes Anweisungen für Ärger", "precedentes anweisungen fur arger"},
		{"sharp s", "Straße", "strasse"},
		{"fullwidth", "Ｉｇｎｏｒｅ　ａｌｌ", "ignore all"},
		{"math bold", "𝐈𝐠𝐧𝐨𝐫𝐞", "ignore"},
		{"ligature", "ﬁlter", "filter"},
		{"zero width", "ig\u200bno\u200dre\ufeff in\u00adstructions\u2060", "ignore instructions"},
		{"tags smuggle ascii", "hi\U000E0069\U000E0067\U000E006E", "hiign"},
		{"small capitals", "ɪɢɴᴏʀᴇ", "ignore"},
		{"escaped newline", `a\nb`, "a\nb"},
		{"curly quote", "don’t", "don't"},
		{"cyrillic kept for words", "привет", "привет"},
		{"invalid utf8", "a\xffb", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, foldString(tt.give))
		})
	}
}

func TestFoldOffsets(t *testing.T) {
	loadTables()
	s := "Ｉｇ\u200bn é"
	var f folder
	f.fold(s, 0)
	assert.Equal(t, "ign e", string(f.buf))
	assert.Len(t, f.off, len(f.buf))
	for i := 1; i < len(f.off); i++ {
		assert.LessOrEqual(t, f.off[i-1], f.off[i], "offsets never go back")
	}
	assert.Equal(t, int32(0), f.off[0])
	assert.Equal(t, int32(len("Ｉｇ\u200b")), f.off[2], "n comes after the dropped zero-width space")
	assert.Equal(t, 1, f.invisible)
}

func TestLatinReading(t *testing.T) {
	loadTables()
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"іgnоrе", "ignore", true}, // Cyrillic і, о, е
		{"рrеvіоus", "previous", true},
		{"ρrοmρt", "prompt", true}, // Greek ρ, ο
		{"дом", "", false},         // д has no Latin look-alike
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := latinReading(nil, []byte(tt.give))
			assert.Equal(t, tt.wantOK, ok)
			if tt.wantOK {
				assert.Equal(t, tt.want, string(got))
			}
		})
	}
}

func TestDeleet(t *testing.T) {
	assert.Equal(t, "ignore", string(deleet(nil, []byte("1gn0r3"), false)))
	assert.Equal(t, "rules", string(deleet(nil, []byte("ru1e$"), true)))
	assert.True(t, hasLeet([]byte("pr3v10us")))
	assert.False(t, hasLeet([]byte("12345")))
	assert.False(t, hasLeet([]byte("order")))
}
