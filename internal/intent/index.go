package intent

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sync"
)

// Weights of evidence.
const (
	strongWeight = 2.0
	hintWeight   = 1.0
	// fuzzyFactor scales evidence found only after correcting a typo.
	fuzzyFactor = 0.75
)

// Pseudo-intents of the keyword table: complexity cues, and neutral
// phrases that only take their words away from other keywords.
const (
	cueIntent     = -1
	neutralIntent = -2
)

// kwInfo is one compiled keyword or pattern.
type kwInfo struct {
	intent int     // index into rules.intents, or cueIntent
	weight float64 // strongWeight or hintWeight
	rule   string  // "order_status/keyword:where is my order", for Result.Rule
	// pattern marks a regular expression rather than a keyword.
	pattern bool
}

// phrase is a keyword of several words, indexed by its first word.
type phrase struct {
	words  []string
	prefix bool // the last word is a prefix
	id     int
}

// fuzzyTarget is the known word or stem a typo may stand for.
type fuzzyTarget struct {
	word string
	stem bool
}

// compiledIntent is one intent of a rule set.
type compiledIntent struct {
	name       string
	complexity Complexity
	background bool
	absorbs    uint64 // bit i: absorbs intent i
	agent      string // IntentConfig.Agent
}

// rules is a compiled rule set: the configuration turned into maps looked
// up once per word, so that classifying a message is one pass over its
// words whatever the number of keywords. Immutable after compile and safe
// for concurrent use.
type rules struct {
	intents  []compiledIntent
	byName   map[string]int
	fallback int
	kws      []kwInfo
	exact    map[string][]int    // whole-word keywords
	stems    map[string][]int    // prefix keywords of one word, by stem
	phrases  map[string][]phrase // keywords of several words, longest first
	stemLens []int               // distinct stem lengths, ascending
	patterns []pattern
	// vocab holds every word of a keyword and the known words; fuzzy
	// correction leaves them be.
	vocab     map[string]struct{}
	fuzzy     map[string]fuzzyTarget // words and their one-deletion variants
	fuzzyStem map[string]fuzzyTarget // stems and their one-deletion variants
	fuzzyLens []int                  // distinct fuzzy stem lengths, ascending

	threshold      float64
	secondaryRatio float64
	longWords      int
	maxBytes       int

	pool sync.Pool // *scratch
}

type pattern struct {
	re  *regexp.Regexp
	pre prefilter
	id  int
}

// minFuzzy is the shortest word, in bytes, that fuzzy matching corrects.
const minFuzzy = 4

// compile resolves and compiles cfg, returning the rules and the
// effective configuration.
func compile(cfg Config) (*rules, Config, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, Config{}, err
	}
	r := &rules{
		byName:         map[string]int{},
		exact:          map[string][]int{},
		stems:          map[string][]int{},
		phrases:        map[string][]phrase{},
		vocab:          map[string]struct{}{},
		fuzzy:          map[string]fuzzyTarget{},
		fuzzyStem:      map[string]fuzzyTarget{},
		threshold:      cfg.Threshold,
		secondaryRatio: cfg.SecondaryRatio,
		longWords:      cfg.LongMessageWords,
		maxBytes:       cfg.MaxBytes,
	}
	for i, in := range cfg.Intents {
		r.byName[in.Name] = i
		r.intents = append(r.intents, compiledIntent{name: in.Name, complexity: in.Complexity, background: in.Background,
			agent: in.Agent})
	}
	r.fallback = r.byName[cfg.Fallback]
	stemLens := map[int]bool{}
	addKeyword := func(intent int, kind string, weight float64, s string) {
		k, _ := ParseKeyword(s) // validated by resolve
		id := len(r.kws)
		name := "complexity"
		switch {
		case intent >= 0:
			name = r.intents[intent].name
		case intent == neutralIntent:
			name = "neutral"
		}
		r.kws = append(r.kws, kwInfo{intent: intent, weight: weight, rule: fmt.Sprintf("%s/%s:%s", name, kind, k)})
		for _, w := range k.Words {
			r.vocab[w] = struct{}{}
		}
		switch {
		case len(k.Words) > 1:
			r.phrases[k.Words[0]] = append(r.phrases[k.Words[0]], phrase{words: k.Words, prefix: k.Prefix, id: id})
		case k.Prefix:
			r.stems[k.Words[0]] = append(r.stems[k.Words[0]], id)
			stemLens[len(k.Words[0])] = true
		default:
			r.exact[k.Words[0]] = append(r.exact[k.Words[0]], id)
		}
		if intent < 0 {
			return
		}
		for j, w := range k.Words {
			if j == len(k.Words)-1 && k.Prefix {
				addFuzzy(r.fuzzyStem, w, true)
			} else {
				addFuzzy(r.fuzzy, w, false)
			}
		}
	}
	for i, in := range cfg.Intents {
		for _, a := range in.Absorbs {
			r.intents[i].absorbs |= 1 << r.byName[a]
		}
		for _, kw := range in.Keywords {
			addKeyword(i, "keyword", strongWeight, kw)
		}
		for _, kw := range in.Hints {
			addKeyword(i, "hint", hintWeight, kw)
		}
		for kind, list := range [2][]string{in.Patterns, in.HintPatterns} {
			weight, name := strongWeight, "pattern"
			if kind == 1 {
				weight, name = hintWeight, "hint_pattern"
			}
			for _, p := range list {
				re, _ := compilePattern(p) // validated by resolve
				id := len(r.kws)
				r.kws = append(r.kws, kwInfo{intent: i, weight: weight, rule: fmt.Sprintf("%s/%s:%s", in.Name, name, p), pattern: true})
				r.patterns = append(r.patterns, pattern{re: re, pre: newPrefilter(p), id: id})
			}
		}
	}
	for _, kw := range cfg.ComplexCues {
		addKeyword(cueIntent, "cue", 0, kw)
	}
	for _, kw := range cfg.Neutral {
		addKeyword(neutralIntent, "neutral", 0, kw)
	}
	for _, w := range cfg.KnownWords {
		k, _ := ParseKeyword(w) // validated by resolve
		r.vocab[k.Words[0]] = struct{}{}
	}
	for _, list := range r.phrases {
		slices.SortStableFunc(list, func(a, b phrase) int { return cmp.Compare(len(b.words), len(a.words)) })
	}
	for l := range stemLens {
		r.stemLens = append(r.stemLens, l)
	}
	slices.Sort(r.stemLens)
	fuzzyLens := map[int]bool{}
	for k, t := range r.fuzzyStem {
		if k == t.word {
			fuzzyLens[len(k)] = true
		}
	}
	for l := range fuzzyLens {
		r.fuzzyLens = append(r.fuzzyLens, l)
	}
	slices.Sort(r.fuzzyLens)
	words := (len(r.kws) + 63) / 64
	r.pool.New = func() any {
		return &scratch{hits: make([]uint64, words)}
	}
	return r, cfg, nil
}

// addFuzzy indexes w and every string made by deleting one byte of it,
// so that a word within one insertion, deletion, substitution or
// transposition of w finds it (the symmetric-delete method). The first
// keyword to claim a variant keeps it: keywords come in priority order.
func addFuzzy(m map[string]fuzzyTarget, w string, stem bool) {
	if len(w) < minFuzzy+1 {
		return // a short word is within one edit of too many others
	}
	t := fuzzyTarget{word: w, stem: stem}
	if _, ok := m[w]; !ok || m[w].word != w {
		m[w] = t // the word itself beats a variant of another word
	}
	b := make([]byte, 0, len(w))
	for i := range len(w) {
		b = append(append(b[:0], w[:i]...), w[i+1:]...)
		if _, ok := m[string(b)]; !ok {
			m[string(b)] = t
		}
	}
}
