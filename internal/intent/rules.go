package intent

import (
	"unicode/utf8"
)

// strongHints is how many hints of one intent count as strong evidence.
const strongHints = 3

// weakFactor scales the confidence of an intent with no strong evidence.
const weakFactor = 0.7

// followUpWords: a message of at most this many words with no strong
// evidence of its own ("it's 100123") continues the previous intent.
const followUpWords = 8

// scratch is the per-message working memory of the rule stage, pooled so
// that classifying allocates only the folded copy of the text.
type scratch struct {
	buf      []byte
	spans    []span
	toks     []string
	fixed    []bool // toks[i] was corrected by fuzzy matching
	consumed []bool // toks[i] belongs to a matched keyword phrase
	hits     []uint64
	patHits  []int
	tmp      []byte
	score    [maxIntents]float64
	bestW    [maxIntents]float64
	best     [maxIntents]int
	strong   uint64 // bit i: intent i has strong evidence (see hit)
	hintN    [maxIntents]uint16
	hintPat  uint64              // bit i: intent i has a hint pattern match
	strongW  [maxIntents]float64 // score from strong keywords and patterns
	cue      bool
	words    bool // a keyword (not a pattern) matched
	order    [maxIntents]int8
}

func (s *scratch) reset() {
	clear(s.hits)
	s.score = [maxIntents]float64{}
	s.bestW = [maxIntents]float64{}
	s.hintN = [maxIntents]uint16{}
	s.strongW = [maxIntents]float64{}
	s.cue, s.words, s.strong, s.hintPat = false, false, 0, 0
	clear(s.consumed)
}

// verdict is the rule stage's answer, before it becomes a Result.
type verdict struct {
	primary, secondary int // intent indexes; secondary -1 when none
	confidence         float64
	complexity         Complexity
	rule               string
	strong             bool // the primary intent has strong evidence
}

// classify runs the rule stage on text. previous is the intent of the
// previous turn, or "".
func (r *rules) classify(text, previous string) verdict {
	s := r.pool.Get().(*scratch)
	defer r.pool.Put(s)
	text = truncate(text, r.maxBytes)
	s.buf, s.spans = tokenize(s.buf[:0], s.spans[:0], text, len(text))
	folded := string(s.buf)
	n := len(s.spans)
	s.toks = s.toks[:0]
	for _, sp := range s.spans {
		s.toks = append(s.toks, folded[sp.start:sp.end])
	}
	s.fixed = grow(s.fixed, n)
	s.consumed = grow(s.consumed, n)
	clear(s.fixed)
	s.patHits = s.patHits[:0]
	if len(r.patterns) > 0 {
		present := textBytes(text)
		for _, p := range r.patterns {
			if p.pre.admits(&present) && p.re.MatchString(text) {
				s.patHits = append(s.patHits, p.id)
			}
		}
	}
	s.reset()
	r.match(s)
	v := r.resolve(s, previous, n)
	if v.confidence < r.threshold && r.correct(s) {
		s.reset()
		r.match(s)
		// The corrected text wins when it is surer, or when it found the
		// strong evidence the original lacked ("refnd" is "refund").
		w := r.resolve(s, previous, n)
		if w.confidence > v.confidence || w.strong && !v.strong {
			v = w
		}
	}
	return v
}

func grow(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	return b[:n]
}

// hit records keyword id once.
func (r *rules) hit(s *scratch, id int, fuzzy bool) {
	if s.hits[id/64]&(1<<(id%64)) != 0 {
		return
	}
	s.hits[id/64] |= 1 << (id % 64)
	k := &r.kws[id]
	switch k.intent {
	case cueIntent:
		s.cue = true
		return
	case neutralIntent:
		return
	}
	s.words = s.words || !k.pattern
	w := k.weight
	if fuzzy {
		w *= fuzzyFactor
	}
	s.score[k.intent] += w
	// Strong evidence is a keyword or pattern, or three hints of which one
	// is a pattern: an entity and two words about it ("order 100674
	// status") make one strong sign, where three product names in an
	// order question do not.
	switch {
	case k.weight >= strongWeight:
		s.strong |= 1 << k.intent
		s.strongW[k.intent] += w
	case k.pattern:
		s.hintPat |= 1 << k.intent
		fallthrough
	default:
		s.hintN[k.intent]++
		if s.hintN[k.intent] >= strongHints && s.hintPat&(1<<k.intent) != 0 {
			s.strong |= 1 << k.intent
		}
	}
	if w > s.bestW[k.intent] {
		s.bestW[k.intent], s.best[k.intent] = w, id
	}
}

// match scores every intent on s.toks: phrases first, longest first and
// left to right, each consuming its words; then single words and stems on
// the words no phrase took. Complexity cues never consume a word.
func (r *rules) match(s *scratch) {
	toks := s.toks
	for _, id := range s.patHits {
		r.hit(s, id, false)
	}
	for i, w := range toks {
		if s.consumed[i] {
			continue
		}
		longest := 0
		for _, ph := range r.phrases[w] {
			l := len(ph.words)
			if i+l > len(toks) || l < longest || !phraseAt(toks[i:i+l], ph) {
				continue
			}
			fuzzy := false
			for j := i; j < i+l; j++ {
				fuzzy = fuzzy || s.fixed[j]
			}
			r.hit(s, ph.id, fuzzy)
			if r.kws[ph.id].intent != cueIntent {
				longest = l
			}
		}
		for j := i; j < i+longest; j++ {
			s.consumed[j] = true
		}
	}
	// A word is one keyword's too: a whole-word keyword beats a stem, and
	// a longer stem a shorter one ("lieferadresse" is an account word,
	// not a "liefer*" delivery word).
	for i, w := range toks {
		cueOnly := s.consumed[i]
		taken := false
		for _, id := range r.exact[w] {
			if r.kws[id].intent == cueIntent || !cueOnly {
				r.hit(s, id, s.fixed[i])
				taken = taken || r.kws[id].intent != cueIntent
			}
		}
		for k := len(r.stemLens) - 1; k >= 0 && !taken; k-- {
			l := r.stemLens[k]
			if l > len(w) {
				continue
			}
			for _, id := range r.stems[w[:l]] {
				if r.kws[id].intent == cueIntent || !cueOnly {
					r.hit(s, id, s.fixed[i])
					taken = taken || r.kws[id].intent != cueIntent
				}
			}
		}
	}
}

func phraseAt(toks []string, ph phrase) bool {
	last := len(ph.words) - 1
	for j, w := range ph.words {
		if j == last && ph.prefix {
			if len(toks[j]) < len(w) || toks[j][:len(w)] != w {
				return false
			}
			continue
		}
		if toks[j] != w {
			return false
		}
	}
	return true
}

// resolve turns the scores into a verdict: the absorptions, the primary
// and secondary intents, the confidence and the complexity.
func (r *rules) resolve(s *scratch, previous string, words int) verdict {
	// Intents with evidence, by strong evidence, then all evidence, then
	// priority: one strong keyword outweighs any number of hints (a
	// "blue backpack instead of the black one" is a return, not a
	// product question).
	order := s.order[:0]
	below := func(a, b int8) bool {
		return s.strongW[a] < s.strongW[b] || s.strongW[a] == s.strongW[b] && s.score[a] < s.score[b]
	}
	for i := range r.intents {
		if s.score[i] == 0 {
			continue
		}
		j := len(order)
		order = append(order, int8(i))
		for j > 0 && below(order[j-1], int8(i)) {
			order[j] = order[j-1]
			j--
		}
		order[j] = int8(i)
	}
	var alive uint64
	for _, i := range order {
		alive |= 1 << i
	}
	for _, i := range order {
		if alive&(1<<i) != 0 && s.strong&(1<<i) != 0 {
			alive &^= r.intents[i].absorbs
		}
	}
	primary, secondary := -1, -1
	for _, i := range order {
		if alive&(1<<i) == 0 || r.intents[i].background {
			continue
		}
		switch {
		case primary < 0:
			primary = int(i)
		case secondary < 0 && s.strong&(1<<i) != 0 && r.rivals(s, int(i), primary):
			secondary = int(i)
		}
	}
	// A short message with no word of a request ("it's 100123", after a
	// clarifying question) continues the previous turn's intent.
	if p, ok := r.byName[previous]; ok && !s.words && words > 0 && words <= followUpWords &&
		!r.intents[p].background && (primary < 0 || s.strong&(1<<primary) == 0) {
		return verdict{primary: p, secondary: -1, confidence: r.threshold, strong: true,
			complexity: r.intents[p].complexity, rule: "inherit:previous"}
	}
	if primary < 0 {
		for _, i := range order {
			if alive&(1<<i) != 0 {
				top := s.score[i]
				strong := s.strong&(1<<i) != 0
				conf := top / (top + 1)
				if !strong {
					conf *= weakFactor
				}
				return verdict{primary: int(i), secondary: -1, confidence: conf, strong: strong,
					complexity: r.complexity(s, r.intents[i].complexity, words), rule: r.kws[s.best[i]].rule}
			}
		}
		return verdict{primary: r.fallback, secondary: -1, confidence: 0,
			complexity: r.complexity(s, r.intents[r.fallback].complexity, words), rule: "fallback"}
	}
	var rival float64
	for _, i := range order {
		if int(i) != primary && int(i) != secondary && alive&(1<<i) != 0 && !r.intents[i].background {
			rival = max(rival, s.score[i])
		}
	}
	top := s.score[primary]
	v := verdict{primary: primary, secondary: secondary, rule: r.kws[s.best[primary]].rule,
		strong: s.strong&(1<<primary) != 0}
	c := r.intents[primary].complexity
	if secondary >= 0 {
		sec := s.score[secondary]
		m := min(top, sec)
		v.confidence = m / (m + 1) * (top + sec) / (top + sec + rival)
		c = Complex
	} else {
		v.confidence = top / (top + 1) * top / (top + rival)
	}
	if !v.strong {
		v.confidence *= weakFactor
	}
	v.complexity = r.complexity(s, c, words)
	return v
}

// rivals reports whether intent i has enough evidence to be a second
// request beside primary: strong evidence, and a share of the primary's
// (hints are left out of the comparison: a product question names
// products, and their names should not drown a second request).
func (r *rules) rivals(s *scratch, i, primary int) bool {
	a, b := s.strongW[i], s.strongW[primary]
	if a == 0 {
		a = s.score[i] // three hints
	}
	if b == 0 {
		b = s.score[primary]
	}
	return a >= r.secondaryRatio*b
}

// complexity raises an intent's class for what the message itself shows:
// a comparison makes it complex, length at least standard.
func (r *rules) complexity(s *scratch, c Complexity, words int) Complexity {
	if s.cue {
		return Complex
	}
	if r.longWords > 0 && words > r.longWords {
		return atLeast(c, Standard)
	}
	return c
}

// correct replaces the words of s.toks that no keyword knows by the keyword
// word or stem they are a typo of, and reports whether it replaced any.
func (r *rules) correct(s *scratch) bool {
	changed := false
	for i, w := range s.toks {
		if len(w) < minFuzzy || r.known(w) || hasDigit(w) {
			continue
		}
		if t, ok := r.lookupFuzzy(s, w); ok {
			s.toks[i], s.fixed[i], changed = t.word, true, true
		}
	}
	return changed
}

func (r *rules) known(w string) bool {
	if _, ok := r.vocab[w]; ok {
		return true
	}
	for _, l := range r.stemLens {
		if l > len(w) {
			break
		}
		if _, ok := r.stems[w[:l]]; ok {
			return true
		}
	}
	return false
}

func hasDigit(w string) bool {
	for i := range len(w) {
		if '0' <= w[i] && w[i] <= '9' {
			return true
		}
	}
	return false
}

// lookupFuzzy finds the keyword word or stem that w is within one edit of
// (for a stem: that a prefix of w is within one edit of). Candidates come
// from the symmetric-delete index and are checked with the true edit
// distance; a substitution in a stem of five letters is not accepted
// ("processing" is no "price*" typo).
func (r *rules) lookupFuzzy(s *scratch, w string) (fuzzyTarget, bool) {
	if t, ok := r.deletes(s, r.fuzzy, w); ok {
		if ok, _ := edit1(w, t.word); ok {
			return t, true
		}
	}
	for _, l := range r.fuzzyLens {
		if l-1 > len(w) {
			break
		}
		for _, pl := range [3]int{l - 1, l, l + 1} {
			if pl < minFuzzy || pl > len(w) {
				continue
			}
			t, ok := r.deletes(s, r.fuzzyStem, w[:pl])
			if !ok {
				continue
			}
			if ok, subst := edit1(w[:pl], t.word); ok && (!subst || len(t.word) > minFuzzy+1) {
				return t, true
			}
		}
	}
	return fuzzyTarget{}, false
}

// edit1 reports whether a and b differ by at most one insertion, deletion,
// substitution or transposition of adjacent bytes, and whether that edit
// is a substitution.
func edit1(a, b string) (ok, subst bool) {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch {
	case len(b)-len(a) > 1:
		return false, false
	case len(b) != len(a):
		return a[i:] == b[i+1:], false
	case i == len(a):
		return true, false
	case i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]:
		return true, false
	default:
		ok := a[i+1:] == b[i+1:]
		return ok, ok
	}
}

// deletes looks w and its one-deletion variants up in m. A target must
// begin with w's first letter: typos there are rare, and without the rule
// "cracked" would be "track" and "spiel" "size".
func (r *rules) deletes(s *scratch, m map[string]fuzzyTarget, w string) (fuzzyTarget, bool) {
	if t, ok := m[w]; ok && t.word[0] == w[0] {
		return t, true
	}
	for i := range len(w) {
		s.tmp = append(append(s.tmp[:0], w[:i]...), w[i+1:]...)
		if t, ok := m[string(s.tmp)]; ok && t.word[0] == w[0] {
			return t, true
		}
	}
	return fuzzyTarget{}, false
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
