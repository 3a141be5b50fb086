package modelpolicy

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// maxCompare bounds the bytes of each text that Similarity reads.
const maxCompare = 512

// Similarity measures how much text b repeats text a, in [0, 1]: the Dice
// coefficient of their sets of character trigrams after lower-casing and
// reducing everything but letters and digits to single spaces, so that
// punctuation, case, spacing and a typo or two barely count ("where is my
// order 100123" and "Where is my order 100123???" score 1, "wher is my
// order 100123" 0.9). Numbers are what a question is about: when both
// texts carry numbers and their sets differ, they are different questions
// and score 0. Empty texts score 0. Only the first 512 bytes of each text
// are read; it does not allocate.
func Similarity(a, b string) float64 {
	var ta, tb [maxCompare + 2]uint64
	var na, nb [16]uint64
	ga, numA := trigrams(a, ta[:0], na[:0])
	gb, numB := trigrams(b, tb[:0], nb[:0])
	if len(ga) == 0 || len(gb) == 0 {
		return 0
	}
	if len(numA) > 0 && len(numB) > 0 && !slices.Equal(numA, numB) {
		return 0
	}
	common := 0
	for i, j := 0, 0; i < len(ga) && j < len(gb); {
		switch {
		case ga[i] == gb[j]:
			common++
			i++
			j++
		case ga[i] < gb[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(ga)+len(gb))
}

// trigrams appends the sorted, distinct trigrams of the normalised s to
// grams, and the sorted, distinct hashes of its words that hold a digit to
// nums (up to their capacity).
func trigrams(s string, grams, nums []uint64) ([]uint64, []uint64) {
	if len(s) > maxCompare {
		s = s[:maxCompare]
	}
	// A sliding window of the last three runes of the normalised text,
	// which starts and ends with a space.
	var w [3]rune
	n := 0
	push := func(r rune) {
		w[0], w[1], w[2] = w[1], w[2], r
		n++
		if n >= 3 && len(grams) < cap(grams) {
			grams = append(grams, uint64(w[0])<<42|uint64(w[1])<<21|uint64(w[2]))
		}
	}
	push(' ')
	space := true
	var word uint64 // FNV-1a of the current word
	digit := false
	endWord := func() {
		if digit && len(nums) < cap(nums) {
			nums = append(nums, word)
		}
		word, digit = 14695981039346656037, false
	}
	endWord()
	letters := 0
	for _, r := range s {
		if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if !space {
				push(' ')
				space = true
				endWord()
			}
			continue
		}
		r = unicode.ToLower(r)
		push(r)
		space = false
		letters++
		word = (word ^ uint64(r)) * 1099511628211
		digit = digit || unicode.IsDigit(r)
	}
	if letters == 0 {
		return grams[:0], nums[:0]
	}
	if !space {
		push(' ')
		endWord()
	}
	slices.Sort(grams)
	slices.Sort(nums)
	return slices.Compact(grams), slices.Compact(nums)
}
