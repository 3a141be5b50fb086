package promptfilter

import (
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Category is a set of kinds of injection, one bit each.
type Category uint16

// Categories of injection.
const (
	CatOverride   Category = 1 << iota // instruction override: "ignore previous instructions"
	CatRolePlay                        // role play and jailbreak personas: DAN, developer mode
	CatExtraction                      // system-prompt extraction: "repeat the text above"
	CatDelimiter                       // delimiter and format injection: fake turns, chat-template tokens
	CatEncoded                         // a payload hidden by an encoding or invisible characters
	CatIndirect                        // text addressed to the model from inside data: "note to AI"
)

var categoryNames = []string{"override", "roleplay", "extraction", "delimiter", "encoded", "indirect"}

// String returns the categories' names joined by '+', "" for none.
func (c Category) String() string {
	var parts []string
	for i, n := range categoryNames {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "+")
}

// Names returns the categories' names, for logs and metric labels.
func (c Category) Names() []string {
	var out []string
	for i, n := range categoryNames {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Source says where a text comes from.
type Source uint8

// Sources of text.
const (
	// SourceUser is text a client sent: user messages.
	SourceUser Source = iota
	// SourceTool is text a tool returned (a web page, an e-mail, a review,
	// a record): data, in which words addressed to the model are suspect.
	SourceTool
)

// String returns "user" or "tool".
func (s Source) String() string {
	if s == SourceTool {
		return "tool"
	}
	return "user"
}

// Hit is one piece of evidence: a rule that matched and where.
type Hit struct {
	// Rule names the rule ("ignore-prior-instructions", "role-marker",
	// "base64:reveal-instructions" for a rule matched in decoded text).
	Rule     string
	Category Category
	// Weight is how strongly the hit alone suggests an injection, in (0, 1].
	Weight float64
	// Start and End are the byte span of the evidence in the scanned text:
	// the matched words, the marker, or the encoded segment.
	Start, End int
	// Sentence is true when the span is words of prose, which sanitising
	// widens to their sentence; false for markers and encoded segments,
	// which are removed exactly.
	Sentence bool
}

// Result is the outcome of scanning one text.
type Result struct {
	// Score combines the hits' weights (1 − Π(1 − w), each rule counted
	// once at its strongest), in [0, 1).
	Score float64
	// Categories is the union of the hits' categories.
	Categories Category
	// Hits is the evidence, strongest first.
	Hits []Hit
	// Truncated reports that the text was longer than the scan limit:
	// only its head and tail were scanned (see Config.MaxScanBytes).
	Truncated bool
}

// Limits of one scan.
const (
	// DefaultMaxScanBytes is how much of a text is scanned by default.
	DefaultMaxScanBytes = 32 << 10
	// maxDepth bounds decoding within decoded text (base64 of hex of …).
	maxDepth = 2
	// maxDecodes bounds the decoded segments rescanned per text.
	maxDecodes = 12
	// minInnerScore is the score decoded text must reach to count.
	minInnerScore = 0.3
)

// Detector scores texts for prompt injection with rules over a
// multilingual lexicon. It is safe for concurrent use; New builds the
// lexicon once, and Scan allocates little (scanners are pooled).
type Detector struct {
	lex     *trie
	maxScan int
	pool    sync.Pool
}

// NewDetector returns a Detector that scans at most maxScanBytes of a
// text (DefaultMaxScanBytes when ≤ 0): a longer text is scanned in its
// first three quarters and last quarter of that many bytes.
func NewDetector(maxScanBytes int) *Detector {
	if maxScanBytes <= 0 {
		maxScanBytes = DefaultMaxScanBytes
	}
	loadTables()
	d := &Detector{lex: sharedLexicon(), maxScan: maxScanBytes}
	d.pool.New = func() any { return &scanner{d: d} }
	return d
}

var (
	lexOnce sync.Once
	lexTrie *trie
)

func sharedLexicon() *trie {
	lexOnce.Do(func() { lexTrie = buildTrie(foldString) })
	return lexTrie
}

// scanner holds the buffers of one scan.
type scanner struct {
	d       *Detector
	f       folder
	toks    []token
	spare   []token // the other token buffer: passes write one while reading the other
	keys    []byte
	scratch []byte
	hits    []Hit
	src     string
	source  Source
}

func (sc *scanner) reset(src string) {
	sc.f.reset()
	sc.toks, sc.keys, sc.hits, sc.src = sc.toks[:0], sc.keys[:0], sc.hits[:0], src
}

// maxPooledBytes keeps one huge text from pinning a scanner's buffers.
const maxPooledBytes = 256 << 10

// Scan scores text from src. It never fails: any input, however long or
// malformed, yields a Result.
func (d *Detector) Scan(text string, src Source) Result {
	b := budget{decodes: maxDecodes, bytes: d.maxScan}
	return d.scan(text, src, 0, &b)
}

// budget bounds the decoding work of one top-level scan.
type budget struct {
	decodes int
	bytes   int
}

func (d *Detector) scan(text string, src Source, depth int, b *budget) Result {
	sc := d.pool.Get().(*scanner)
	defer func() {
		if cap(sc.f.buf) <= maxPooledBytes {
			sc.src = ""
			d.pool.Put(sc)
		}
	}()
	sc.reset(text)
	sc.source = src
	var res Result
	if len(text) <= d.maxScan {
		sc.f.fold(text, 0)
	} else {
		res.Truncated = true
		head := runeFloor(text, d.maxScan*3/4)
		tail := runeCeil(text, len(text)-d.maxScan/4)
		sc.f.fold(text[:head], 0)
		sc.f.emit('\n', head, 0)
		sc.f.fold(text[tail:], tail)
	}
	sc.tokenize()
	sc.matchRules()
	sc.structure()
	sc.obfuscation()
	if depth < maxDepth {
		sc.decodeLayers(depth, b)
	}
	res.Hits, res.Score, res.Categories = summarise(sc.hits)
	return res
}

// runeFloor returns the largest rune boundary ≤ i.
func runeFloor(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// runeCeil returns the smallest rune boundary ≥ i.
func runeCeil(s string, i int) int {
	for i < len(s) && i > 0 && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// span returns the source span of folded bytes [s, e).
func (sc *scanner) span(s, e int32) (int, int) {
	if s >= e || int(e) > len(sc.f.off) {
		return 0, 0
	}
	start := int(sc.f.off[s])
	last := int(sc.f.off[e-1])
	_, n := utf8.DecodeRuneInString(sc.src[last:])
	return start, last + n
}

// maxHits bounds the evidence kept per scan, so that a text of ten
// thousand template tokens costs no more than one of a hundred.
const maxHits = 128

func (sc *scanner) addHit(h Hit) {
	if len(sc.hits) < maxHits {
		sc.hits = append(sc.hits, h)
	}
}

// matchRules runs every rule over the tokens.
func (sc *scanner) matchRules() {
	var all concept
	for _, t := range sc.toks {
		all |= t.c
	}
	if all == 0 {
		return
	}
	for i := range rules {
		r := &rules[i]
		base := r.weight
		if sc.source == SourceTool {
			if r.tool > 0 {
				base = r.tool
			}
		} else if r.toolOnly {
			continue
		}
		first, last, w, ok := r.match(sc.toks, all, base)
		if !ok {
			continue
		}
		s, e := sc.span(sc.toks[first].s, sc.toks[last].e)
		sc.addHit(Hit{Rule: r.name, Category: r.cat, Weight: w, Start: s, End: e, Sentence: true})
	}
}

// obfuscation adds the evidence of hiding: tag characters, invisible
// characters inside words, words mixing scripts. Alone they stay below
// any sensible threshold; they strengthen what the folded text says.
func (sc *scanner) obfuscation() {
	if sc.f.tags >= 4 {
		s, e := sc.hiddenSpan()
		sc.addHit(Hit{Rule: "tag-characters", Category: CatEncoded, Weight: 0.4, Start: s, End: e})
	}
	if sc.f.invisible >= 3 {
		sc.addHit(Hit{Rule: "invisible-characters", Category: CatEncoded, Weight: 0.15, Start: 0, End: 0})
	}
	mixed := 0
	for _, t := range sc.toks {
		if t.fl&tfMixed != 0 {
			mixed++
		}
	}
	if mixed > 0 {
		sc.addHit(Hit{Rule: "homoglyphs", Category: CatEncoded, Weight: math.Min(0.15*float64(mixed), 0.35)})
	}
}

// hiddenSpan returns the source span of the tag characters.
func (sc *scanner) hiddenSpan() (int, int) {
	s, e := -1, 0
	for i, fl := range sc.f.flags {
		if fl&fbHidden != 0 {
			if s < 0 {
				s = int(sc.f.off[i])
			}
			e = int(sc.f.off[i]) + 4
		}
	}
	if s < 0 {
		return 0, 0
	}
	return s, min(e, len(sc.src))
}

// summarise sorts the hits strongest first and combines their weights,
// each rule counted once at its strongest. Every hit is kept, since
// sanitising removes every span.
func summarise(hits []Hit) ([]Hit, float64, Category) {
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		if h.Weight > 0 {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, 0, 0
	}
	slices.SortStableFunc(out, func(a, b Hit) int {
		switch {
		case a.Weight > b.Weight:
			return -1
		case a.Weight < b.Weight:
			return 1
		}
		return 0
	})
	miss := 1.0
	var cats Category
	for i, h := range out {
		cats |= h.Category
		if slices.ContainsFunc(out[:i], func(o Hit) bool { return o.Rule == h.Rule }) {
			continue // a weaker hit of a rule already counted
		}
		miss *= 1 - math.Min(h.Weight, 0.99)
	}
	return out, 1 - miss, cats
}
