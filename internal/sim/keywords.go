package sim

import (
	"math/bits"
	"strings"
	"unicode/utf8"
)

// The keyword lists of intent.go and summary.go are compiled into one
// index at start, so that classifying a text is one pass over its words
// (a few map lookups per word) rather than a substring search per keyword.

// kwList names one registered keyword list.
type kwList uint8

const (
	kwOrderStrong kwList = iota
	kwOrderWeak
	kwShipment
	kwReturn
	kwProduct
	kwProductNouns
	kwSmallTalk
	kwSummarize
	kwRecallCues
	kwRecallBlockers
	kwRecallLast
	kwConversation
	kwRecallKind0 // one list per entry of recallKinds, in order
)

const maxKeywords = 512

// kwHits is the set of keywords found in a text.
type kwHits struct{ bits [maxKeywords / 64]uint64 }

func (h *kwHits) set(i uint16) { h.bits[i/64] |= 1 << (i % 64) }

// count returns how many keywords of list l were found.
func (h *kwHits) count(l kwList) int {
	n := 0
	m := &kwIndex.masks[l]
	for i := range h.bits {
		n += bits.OnesCount64(h.bits[i] & m.bits[i])
	}
	return n
}

// any reports whether a keyword of list l was found.
func (h *kwHits) any(l kwList) bool {
	m := &kwIndex.masks[l]
	for i := range h.bits {
		if h.bits[i]&m.bits[i] != 0 {
			return true
		}
	}
	return false
}

type kwPhrase struct {
	text   string
	prefix bool
	id     uint16
}

var kwIndex struct {
	exact   map[string][]uint16   // whole-word keywords
	stems   map[string][]uint16   // "stem*" keywords
	phrases map[string][]kwPhrase // keywords of several words, by first word
	minStem int
	maxStem int
	masks   []kwHits
	n       uint16
}

func init() {
	lists := [][]string{
		kwOrderStrong: orderStrong, kwOrderWeak: orderWeak, kwShipment: shipmentStrong, kwReturn: returnStrong,
		kwProduct: productStrong, kwProductNouns: productNouns, kwSmallTalk: smallTalk,
		kwSummarize: summarizeWords, kwRecallCues: recallCues, kwRecallBlockers: recallBlockers,
		kwRecallLast: recallLastWords, kwConversation: conversationWords,
	}
	for _, rk := range recallKinds {
		lists = append(lists, rk.words)
	}
	kwIndex.exact = map[string][]uint16{}
	kwIndex.stems = map[string][]uint16{}
	kwIndex.phrases = map[string][]kwPhrase{}
	kwIndex.minStem = 1 << 30
	kwIndex.masks = make([]kwHits, len(lists))
	for l, list := range lists {
		for _, kw := range list {
			id := kwIndex.n
			kwIndex.n++
			if int(kwIndex.n) > maxKeywords {
				panic("sim: too many keywords")
			}
			kwIndex.masks[l].set(id)
			prefix := strings.HasSuffix(kw, "*")
			text := strings.TrimSuffix(kw, "*")
			first, rest := firstWord(text)
			switch {
			case rest != "":
				kwIndex.phrases[first] = append(kwIndex.phrases[first], kwPhrase{text: text, prefix: prefix, id: id})
			case prefix:
				kwIndex.stems[text] = append(kwIndex.stems[text], id)
				kwIndex.minStem = min(kwIndex.minStem, len(text))
				kwIndex.maxStem = max(kwIndex.maxStem, len(text))
			default:
				kwIndex.exact[text] = append(kwIndex.exact[text], id)
			}
		}
	}
}

// firstWord splits s before its first non-word rune.
func firstWord(s string) (string, string) {
	for i, r := range s {
		if !isWordRune(r) {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// scanKeywords finds the keywords of every list in text.
func scanKeywords(text string) kwHits {
	var h kwHits
	t := strings.ToLower(text)
	for i := 0; i < len(t); {
		r, size := utf8.DecodeRuneInString(t[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		start := i
		for i < len(t) {
			r, size = utf8.DecodeRuneInString(t[i:])
			if !isWordRune(r) {
				break
			}
			i += size
		}
		word := t[start:i]
		for _, id := range kwIndex.exact[word] {
			h.set(id)
		}
		for n := kwIndex.minStem; n <= min(len(word), kwIndex.maxStem); n++ {
			for _, id := range kwIndex.stems[word[:n]] {
				h.set(id)
			}
		}
		for _, p := range kwIndex.phrases[word] {
			if strings.HasPrefix(t[start:], p.text) && (p.prefix || boundaryAfter(t, start+len(p.text))) {
				h.set(p.id)
			}
		}
	}
	return h
}
