package degrade

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// Defaults of PromptLeakCheck.
const (
	DefaultLeakNGram     = 5
	DefaultLeakThreshold = 0.2
	DefaultLeakMinShared = 3
)

// leakIndex is the set of an instruction text's word n-grams, hashed.
type leakIndex struct {
	n        int
	grams    map[uint64]struct{}
	required int // shared n-grams at or above which an answer leaks
}

// newLeakIndex indexes instructions for the check c (defaults filled).
func newLeakIndex(instructions string, c PromptLeakCheck) *leakIndex {
	words := wordHashes(nil, instructions)
	ix := &leakIndex{n: c.NGram, grams: map[uint64]struct{}{}}
	for i := 0; i+c.NGram <= len(words); i++ {
		ix.grams[gramHash(words[i:i+c.NGram])] = struct{}{}
	}
	total := len(ix.grams)
	need := int(c.Threshold*float64(total) + 0.999999)
	ix.required = min(max(need, c.MinShared), total)
	return ix
}

// shared counts the distinct n-grams of text that the instructions have.
// buf is scratch space, returned for reuse.
func (ix *leakIndex) shared(text string, buf []uint64) (int, []uint64) {
	words := wordHashes(buf[:0], text)
	nw := len(words)
	found := words[nw:nw] // shares the scratch beyond the words
	for i := 0; i+ix.n <= nw; i++ {
		h := gramHash(words[i : i+ix.n])
		if _, ok := ix.grams[h]; ok {
			found = append(found, h)
		}
	}
	slices.Sort(found)
	return len(slices.Compact(found)), words[:0]
}

// wordHashes appends the FNV-1a hash of each word of s (a run of letters
// or digits, in lower case) to dst.
func wordHashes(dst []uint64, s string) []uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h, in := uint64(offset), false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if r < utf8.RuneSelf {
			switch {
			case r >= 'A' && r <= 'Z':
				r += 'a' - 'A'
			case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			default:
				r = -1
			}
		} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
			r = unicode.ToLower(r)
		} else {
			r = -1
		}
		if r < 0 {
			if in {
				dst = append(dst, h)
				h, in = offset, false
			}
			continue
		}
		in = true
		for r > 0 {
			h ^= uint64(r & 0xff)
			h *= prime
			r >>= 8
		}
	}
	if in {
		dst = append(dst, h)
	}
	return dst
}

// gramHash combines word hashes in order.
func gramHash(ws []uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, w := range ws {
		h = (h ^ w) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	return h
}
