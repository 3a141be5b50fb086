package promptfilter

// A rule is a short sequence of concepts, each within a few words of the
// one before, inside one sentence: "IGNORE … (PRIOR|YOUR) … INSTR". Each
// rule has a weight (how sure a match alone makes us) and a category.
// Vetoes lower a match's weight when a concept sits near one of its
// elements: "ignore my previous instructions" (the writer's own), "the
// delivery instructions" (an ordinary thing with instructions).
type rule struct {
	name   string
	cat    Category
	weight float64
	// tool, when set, is the weight for text a tool returned: words that
	// hail the model are ordinary from a user and suspect inside data.
	tool float64
	// toolOnly rules apply to tool results only.
	toolOnly bool
	seq      []elem
	vetoes   []veto
}

// elem is one element of a rule.
type elem struct {
	any concept // the token must carry one of these
	gap int     // how many tokens may lie between it and the previous element
	fl  uint8   // the token must have one of these flags (tf*), 0 for any
	// lead: it must be among the first lead words of its clause (0:
	// anywhere). Imperatives and vocatives start clauses.
	lead int16
	// cross lets the gap before it span sentences ("Your instructions
	// were a test. Ignore them.").
	cross bool
}

// Kinds of veto.
const (
	vetoMine     = iota // the writer's own: cMy just before, no cYour between
	vetoOrdinary        // an ordinary thing: domain word just before, or after a preposition
	vetoContext         // a domain word anywhere in a window
	vetoTopic           // a domain word after a preposition
	vetoModifier        // a domain word just before (a compound noun)
)

// veto lowers a match (multiplies its weight by factor) when the element
// at is the writer's own or about an ordinary thing.
type veto struct {
	kind   int
	at     int
	lo, hi int // vetoContext's window, relative to element at
	factor float64
}

func e(c concept) elem             { return elem{any: c} }
func g(gap int, c concept) elem    { return elem{any: c, gap: gap} }
func lead(n int16, c concept) elem { return elem{any: c, lead: n} }

// mine vetoes a rule whose element at is the writer's own ("my previous
// instructions", "mes instructions") — not "mir deine Anweisungen".
func mine(at int) veto { return veto{kind: vetoMine, at: at, factor: 0.25} }

// modifier vetoes a rule whose element at is a compound noun's head
// after a domain word: "delivery instructions", "Lieferanweisungen".
func modifier(at int) veto { return veto{kind: vetoModifier, at: at} }

// ordinary vetoes a rule whose element at names an ordinary thing's
// instructions or rules: "delivery instructions", "instructions for the
// return", "instructions de lavage".
func ordinary(at int) veto { return veto{kind: vetoOrdinary, at: at} }

// topic halves a rule whose element at is followed by a preposition and
// a domain word: "ignore your rules about refunds" may be an override or
// an angry customer; the classifier stage decides.
func topic(at int) veto { return veto{kind: vetoTopic, at: at, factor: 0.5} }

// near vetoes a rule with a domain word within [lo, hi] of element at:
// "enable developer mode on the TV".
func near(at, lo, hi int) veto { return veto{kind: vetoContext, at: at, lo: lo, hi: hi} }

// The targets of overrides and extraction.
const (
	tInstr   = cInstr | cPrompt
	tOwner   = cPrior | cAll | cYour | cAbove | cSys | cHidden
	tPersona = cPersona | cJailbreak | cDAN
	// tOrder is what a sentence aimed at the model asks it to do.
	tOrder = cReveal | cTell | cSay | cIgnore | cSend | cObey | cNot | cMust | cSecret
)

var rules = []rule{
	// Instruction override.
	{name: "ignore-prior-instructions", cat: CatOverride, weight: 0.85,
		seq:    []elem{e(cIgnore), g(3, tOwner), g(3, tInstr)},
		vetoes: []veto{mine(2), modifier(2), topic(2)}},
	{name: "ignore-instructions-prior", cat: CatOverride, weight: 0.85,
		seq:    []elem{e(cIgnore), g(3, cInstr), g(1, cPrior|cAbove)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "ignore-instructions", cat: CatOverride, weight: 0.55,
		seq:    []elem{e(cIgnore), g(2, tInstr|cTask)},
		vetoes: []veto{mine(1), ordinary(1), near(1, -3, 6)}},
	{name: "ignore-what-you-were-told", cat: CatOverride, weight: 0.8,
		seq:    []elem{e(cIgnore), g(4, cYou|cYour), g(3, cTold)},
		vetoes: []veto{near(2, -4, 3)}},
	{name: "ignore-what-was-told", cat: CatOverride, weight: 0.6,
		seq:    []elem{e(cIgnore), g(4, cTold)},
		vetoes: []veto{mine(1), near(1, -4, 3)}},
	{name: "instructions-then-ignore", cat: CatOverride, weight: 0.5,
		seq:    []elem{e(cYour | cPrior | cSys | cAll), g(2, cInstr), {any: cIgnore, gap: 10, lead: 2, cross: true}},
		vetoes: []veto{mine(1), ordinary(1), mine(2)}},
	{name: "ignore-everything-above", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(cIgnore), g(3, cEverything|cAll), g(4, cAbove|cTold|cPrior)},
		vetoes: []veto{mine(2), near(2, -4, 3)}},
	{name: "instructions-ignored", cat: CatOverride, weight: 0.6,
		seq:    []elem{e(tOwner), g(2, tInstr), g(3, cIgnore)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "instructions-void", cat: CatOverride, weight: 0.8,
		seq:    []elem{e(tOwner), g(3, cInstr), g(4, cVoid)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "instructions-changed", cat: CatOverride, weight: 0.6,
		seq:    []elem{e(tOwner), g(2, cInstr), {any: cNew, gap: 3, fl: tfColon}},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "what-you-were-told-void", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(cEverything | cAll | cInstr), g(2, cYou), g(2, cTold), g(6, cVoid)},
		vetoes: []veto{near(2, -5, 5)}},
	{name: "instructions-void-before", cat: CatOverride, weight: 0.8,
		seq:    []elem{e(cInstr), g(2, cPrior|cAbove), g(4, cVoid)},
		vetoes: []veto{mine(0), ordinary(0)}},
	{name: "instructions-no-longer-valid", cat: CatOverride, weight: 0.75,
		seq:    []elem{e(cInstr), g(5, cNot), g(2, cValid)},
		vetoes: []veto{mine(0), ordinary(0)}},
	{name: "instructions-dont-apply", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(tOwner), g(2, cInstr), g(3, cNot), g(1, cApply)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "instructions-apply-no-more", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(tOwner), g(2, cInstr), g(1, cApply), g(2, cNot)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "instructions-above-then-ignore", cat: CatOverride, weight: 0.55,
		seq:    []elem{e(cInstr), g(1, cAbove|cPrior), {any: cIgnore, gap: 12, cross: true}},
		vetoes: []veto{mine(0), ordinary(0)}},
	{name: "my-will", cat: CatOverride, weight: 0.35,
		seq: []elem{e(cMyWill)}},
	{name: "now-my-will", cat: CatOverride, weight: 0.55,
		seq: []elem{e(cNow | cOnly), g(4, cMyWill)}},
	{name: "new-instructions", cat: CatOverride, weight: 0.35,
		seq:    []elem{e(cNew), g(1, cInstr|cTask|cPrompt)},
		vetoes: []veto{mine(0), ordinary(1)}},
	{name: "new-instructions-follow", cat: CatOverride, weight: 0.6,
		seq:    []elem{e(cNew), {any: cInstr | cTask | cPrompt | cLimit, gap: 1, fl: tfColon}},
		vetoes: []veto{mine(0), ordinary(1)}},
	{name: "new-system-instructions", cat: CatOverride, weight: 0.6,
		seq: []elem{e(cNew), g(1, cSys), g(0, cInstr|cPrompt)}},
	{name: "your-new-task", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(cYour), g(1, cNew|cOnly), g(1, cInstr|cTask|cPrompt)},
		vetoes: []veto{ordinary(2)}},
	{name: "stop-following-instructions", cat: CatOverride, weight: 0.75,
		seq:    []elem{e(cNot), g(2, cObey), g(4, tInstr)},
		vetoes: []veto{mine(0), mine(2), ordinary(2)}},
	{name: "stop-instructions-following", cat: CatOverride, weight: 0.7,
		seq:    []elem{e(cNot), g(4, tInstr), g(2, cObey)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "override-limits", cat: CatOverride, weight: 0.5,
		seq:    []elem{e(cIgnore), g(3, cYour|cAll|cSys|cAI), g(2, cLimit|cSys|cSafety)},
		vetoes: []veto{mine(2), ordinary(2)}},
	{name: "override-safety", cat: CatOverride, weight: 0.5,
		seq:    []elem{e(cIgnore), g(3, cSafety)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "priority-claim", cat: CatOverride, weight: 0.5,
		seq: []elem{e(cPriority), g(5, cPrior|cAll|cInstr)}},
	{name: "from-now-on-you", cat: CatOverride, weight: 0.35,
		seq:    []elem{e(cNow), g(2, cYou), g(3, cSay|cObey|cMust|cOnly|cBe)},
		vetoes: []veto{near(1, -3, 5)}},
	{name: "obey-me-only", cat: CatOverride, weight: 0.45,
		seq: []elem{e(cObey), g(2, cOnly|cMy), g(2, cMy|cInstr)}},

	// Role play and jailbreak personas.
	{name: "jailbreak-word", cat: CatRolePlay, weight: 0.6,
		seq: []elem{e(cJailbreak)}},
	{name: "persona-name", cat: CatRolePlay, weight: 0.3,
		seq: []elem{e(cDAN)}},
	{name: "you-are-persona", cat: CatRolePlay, weight: 0.65,
		seq: []elem{e(cYou), g(2, cBe), g(4, tPersona)}},
	{name: "act-as-persona", cat: CatRolePlay, weight: 0.65,
		seq:    []elem{e(cAct), g(4, cAs|cYou|cBe), g(5, tPersona|cAI)},
		vetoes: []veto{near(2, -3, 3)}},
	{name: "act-as-persona-imperative", cat: CatRolePlay, weight: 0.55,
		seq: []elem{lead(3, cAct), g(5, tPersona)}},
	{name: "pretend-you-are", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{e(cAct), g(4, cYou), g(1, cBe)},
		vetoes: []veto{near(1, -4, 8)}},
	{name: "lets-pretend", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{lead(3, cAct), g(3, cYou)},
		vetoes: []veto{near(1, -4, 8)}},
	{name: "you-are-now", cat: CatRolePlay, weight: 0.5,
		seq: []elem{e(cYou), g(1, cBe), g(1, cNow), g(3, cAI|tPersona)}},
	{name: "you-are-no-longer", cat: CatRolePlay, weight: 0.65,
		seq: []elem{e(cYou), g(2, cBe), g(1, cNot), g(4, cAI|cSys|cUser)}},
	{name: "without-limits", cat: CatRolePlay, weight: 0.5,
		seq:    []elem{e(cAI | cYou | cMode | cSay | cNow | cAct), g(5, cWithout|cNot), g(3, cLimit)},
		vetoes: []veto{ordinary(2)}},
	{name: "no-rules-to-follow", cat: CatRolePlay, weight: 0.4,
		seq: []elem{e(cWithout), g(1, cLimit|cInstr), g(2, cObey)}},
	{name: "unrestricted-ai", cat: CatRolePlay, weight: 0.6,
		seq: []elem{e(cJailbreak | cRestricted), g(2, cAI|cMode)}},
	{name: "mode-switch", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{e(cActivate), g(3, cModeKind|cDAN), g(1, cMode)},
		vetoes: []veto{near(2, -6, 6)}},
	{name: "mode-switch-after", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{e(cActivate), g(3, cMode), g(1, cModeKind|cDAN)},
		vetoes: []veto{near(2, -6, 6)}},
	{name: "mode-enabled", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{e(cModeKind | cDAN), g(1, cMode), g(2, cActivate)},
		vetoes: []veto{near(1, -6, 6)}},
	{name: "you-in-mode", cat: CatRolePlay, weight: 0.6,
		seq: []elem{e(cYou | cAI), g(4, cModeKind|cDAN), g(1, cMode)}},
	{name: "stay-in-character", cat: CatRolePlay, weight: 0.6,
		seq: []elem{e(cStay), g(3, cPersona)}},
	{name: "freed-from-limits", cat: CatRolePlay, weight: 0.5,
		seq: []elem{e(cFreed), g(5, cLimit|cSys|cAI|cInstr)}},
	{name: "never-refuse", cat: CatRolePlay, weight: 0.4,
		seq:    []elem{e(cNot), g(1, cRefuse)},
		vetoes: []veto{near(1, -1, 3)}},
	{name: "no-limits-you", cat: CatRolePlay, weight: 0.45,
		seq:    []elem{e(cWithout), g(2, cLimit|cInstr), g(4, cYou|cAI)},
		vetoes: []veto{ordinary(1)}},

	// System-prompt extraction.
	{name: "reveal-instructions", cat: CatExtraction, weight: 0.75,
		seq:    []elem{e(cReveal), g(4, cYour|cSys|cPrior|cHidden), g(3, tInstr|cContext)},
		vetoes: []veto{mine(2), ordinary(2)}},
	{name: "reveal-instructions-given", cat: CatExtraction, weight: 0.7,
		seq:    []elem{e(cReveal), g(5, tInstr), g(4, cYou|cYour|cSys)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "instructions-you-were-given", cat: CatExtraction, weight: 0.6,
		seq:    []elem{e(tInstr), g(4, cYou|cYour|cSys), g(3, cTold)},
		vetoes: []veto{ordinary(0)}},
	{name: "reveal-text-above", cat: CatExtraction, weight: 0.65,
		seq:    []elem{e(cReveal), g(4, cWords|cEverything|cInput|cAll), g(4, cAbove|cEnd|cPrior|cVerbatim)},
		vetoes: []veto{mine(2), mine(1), near(2, -6, 4)}},
	{name: "reveal-the-instructions", cat: CatExtraction, weight: 0.35,
		seq:    []elem{e(cReveal), g(2, tInstr)},
		vetoes: []veto{mine(1), ordinary(1), near(1, -4, 6)}},
	{name: "reveal-hidden", cat: CatExtraction, weight: 0.6,
		seq: []elem{e(cReveal), g(4, cHidden), g(2, cWords|tInstr|cInput|cContext)}},
	{name: "reveal-verbatim", cat: CatExtraction, weight: 0.4,
		seq: []elem{e(cReveal), g(6, cVerbatim)}},
	{name: "words-of-prompt", cat: CatExtraction, weight: 0.45,
		seq:    []elem{e(cWords), g(3, tInstr)},
		vetoes: []veto{ordinary(1)}},
	{name: "question-your-instructions", cat: CatExtraction, weight: 0.65,
		seq:    []elem{e(cQuestion), g(3, cYour), g(2, tInstr)},
		vetoes: []veto{ordinary(2)}},
	{name: "question-instructions-you-got", cat: CatExtraction, weight: 0.55,
		seq:    []elem{e(cQuestion), g(1, tInstr), g(5, cTold|cYour|cSys)},
		vetoes: []veto{mine(1), ordinary(1)}},
	{name: "question-you-were-told", cat: CatExtraction, weight: 0.45,
		seq:    []elem{e(cQuestion), g(5, cYou), g(2, cTold)},
		vetoes: []veto{near(2, -6, 4)}},
	{name: "question-beginning", cat: CatExtraction, weight: 0.55,
		seq: []elem{e(cQuestion | cReveal), g(6, cEnd|cAbove), g(5, cInput)}},
	{name: "system-prompt", cat: CatExtraction, weight: 0.4,
		seq: []elem{e(cSys), g(0, cPrompt|cInput|cInstr)}},
	{name: "your-prompt", cat: CatExtraction, weight: 0.45,
		seq: []elem{e(cYour), g(2, cPrompt|cContext)}},

	// Delimiters written as words.
	{name: "end-of-input", cat: CatDelimiter, weight: 0.4,
		seq: []elem{e(cEnd), g(3, cUser|cSys), g(1, cInput|cPrompt|cInstr)}},

	// Indirect injection: text that hails the model or acts behind the
	// user's back. From a user most of it is ordinary ("are you an AI?");
	// inside a tool's result it is not.
	{name: "address-ai", cat: CatIndirect, weight: 0.4, tool: 0.55,
		seq: []elem{e(cAddress), g(3, cAI)}},
	{name: "ai-reading", cat: CatIndirect, weight: 0.4, tool: 0.55,
		seq: []elem{e(cAI), g(2, cAddress)}},
	{name: "if-you-are-ai", cat: CatIndirect, weight: 0.35, tool: 0.5,
		seq: []elem{e(cIf), g(1, cYou), g(1, cBe), g(2, cAI)}},
	{name: "ai-must", cat: CatIndirect, weight: 0.3, tool: 0.45,
		seq: []elem{e(cAI), g(2, cMust|cObey)}},
	{name: "vocative-ai", cat: CatIndirect, weight: 0.55, toolOnly: true,
		seq: []elem{{any: cAI, lead: 3, fl: tfComma | tfColon}, g(10, tOrder)}},
	{name: "tell-the-user", cat: CatIndirect, weight: 0.35, toolOnly: true,
		seq: []elem{e(cTell | cSay), g(2, cUser)}},
	{name: "secretly-act", cat: CatIndirect, weight: 0.5,
		seq: []elem{e(cSecret), g(5, cSend|cSay|cTell|cReveal)}},
	{name: "act-secretly", cat: CatIndirect, weight: 0.45,
		seq: []elem{e(cSend | cSay | cReveal), g(8, cSecret)}},
	{name: "do-not-tell-user", cat: CatIndirect, weight: 0.5,
		seq: []elem{e(cNot | cWithout), g(1, cTell|cReveal), g(2, cUser)}},
	{name: "exfiltrate", cat: CatIndirect, weight: 0.6,
		seq:    []elem{e(cSend), g(6, cSecretData|cInput|cUser), g(6, cLink)},
		vetoes: []veto{mine(1)}},
	{name: "ask-user-secrets", cat: CatIndirect, weight: 0.4,
		seq: []elem{e(cUser), g(3, cSecretData)}},

	// Payload words and encodings.
	{name: "pwned", cat: CatOverride, weight: 0.45,
		seq: []elem{e(cPwned)}},
	{name: "say-pwned", cat: CatOverride, weight: 0.7,
		seq: []elem{e(cSay | cReveal), g(6, cPwned)}},
	{name: "decode-and-follow", cat: CatEncoded, weight: 0.45,
		seq: []elem{e(cDecode | cEncoding), g(6, cObey)}},
}

// match finds r in toks (whose union of concepts is all) and returns the
// first and last token of the best match and its weight (base, lowered by
// vetoes), or ok false.
func (r *rule) match(toks []token, all concept, base float64) (first, last int, w float64, ok bool) {
	for _, el := range r.seq {
		if all&el.any == 0 {
			return 0, 0, 0, false
		}
	}
	var at [8]int
	best := -1.0
	for i := range toks {
		el := &r.seq[0]
		if toks[i].c&el.any == 0 || el.fl != 0 && toks[i].fl&el.fl == 0 || el.lead > 0 && toks[i].pos >= el.lead {
			continue
		}
		at[0] = i
		if !r.extend(toks, 1, at[:len(r.seq)]) {
			continue
		}
		wt := base
		for _, v := range r.vetoes {
			if v.applies(toks, at[v.at]) {
				wt *= v.factor
			}
		}
		if wt > best {
			best, first, last = wt, at[0], at[len(r.seq)-1]
			if best == base {
				break
			}
		}
	}
	if best <= 0 {
		return 0, 0, 0, false
	}
	return first, last, best, true
}

// extend matches elements k… after at[k-1], backtracking over gaps.
func (r *rule) extend(toks []token, k int, at []int) bool {
	if k == len(r.seq) {
		return true
	}
	el := &r.seq[k]
	prev := at[k-1]
	for j := prev + 1; j <= prev+1+el.gap && j < len(toks); j++ {
		if toks[j].sent != toks[prev].sent && !el.cross {
			return false
		}
		if toks[j].c&el.any == 0 || el.fl != 0 && toks[j].fl&el.fl == 0 || el.lead > 0 && toks[j].pos >= el.lead {
			continue
		}
		at[k] = j
		if r.extend(toks, k+1, at) {
			return true
		}
	}
	return false
}

// applies reports whether the veto holds for the element at token i.
func (v veto) applies(toks []token, i int) bool {
	same := func(j int) bool { return j >= 0 && j < len(toks) && toks[j].sent == toks[i].sent }
	has := func(j int, c concept) bool { return same(j) && toks[j].c&c != 0 }
	switch v.kind {
	case vetoMine:
		for j := i - 1; j >= i-2; j-- {
			if has(j, cYour) {
				return false
			}
			if has(j, cMy) {
				return true
			}
		}
		// "the instructions I gave", "le istruzioni che ho dato".
		if has(i+1, cMy) || has(i+2, cMy) && !has(i+1, cYou|cYour) {
			return true
		}
	case vetoOrdinary, vetoModifier, vetoTopic:
		if v.kind != vetoTopic && (has(i-1, cDomain) || has(i-2, cDomain) && !has(i-1, cYour|cPrior|cAll)) {
			return true
		}
		if v.kind == vetoModifier {
			return false
		}
		if has(i+1, cDomain) {
			return true
		}
		if has(i+1, cPrep) {
			for j := i + 2; j <= i+4; j++ {
				if has(j, cDomain) {
					return true
				}
			}
		}
	case vetoContext:
		for j := max(0, i+v.lo); j <= i+v.hi && j < len(toks); j++ {
			if j != i && has(j, cDomain) {
				return true
			}
		}
	}
	return false
}
