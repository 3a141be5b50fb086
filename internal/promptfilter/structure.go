package promptfilter

import (
	"bytes"
	"sort"
)

// Delimiter and format injection: text that imitates the structure a
// model reads its conversation in — chat-template tokens, role turns
// ("system:", "### Assistant"), role tags, JSON messages with a role —
// so that what follows reads as the operator's or the model's own words.
// These checks run on the folded text (lower case, fullwidth folded).

// roleClass is the side a role word stands for.
const (
	roleNone = iota
	roleUser
	roleAssistant
	roleSystem
)

var roleWords = map[string]int{
	"system": roleSystem, "systeme": roleSystem, "sistema": roleSystem, "systeem": roleSystem,
	"developer": roleSystem, "admin": roleSystem, "administrator": roleSystem, "sys": roleSystem,
	"root": roleSystem, "operator": roleSystem, "instructions": roleSystem, "instruction": roleSystem,
	"systemnachricht": roleSystem, "assistant": roleAssistant, "assistent": roleAssistant, "asistente": roleAssistant,
	"assistente": roleAssistant, "ai": roleAssistant, "bot": roleAssistant, "model": roleAssistant,
	"gpt": roleAssistant, "chatgpt": roleAssistant, "ia": roleAssistant, "ki": roleAssistant,
	"user": roleUser, "human": roleUser, "kunde": roleUser, "client": roleUser, "cliente": roleUser,
	"utilisateur": roleUser, "usuario": roleUser, "utente": roleUser, "gebruiker": roleUser,
	"klant": roleUser, "benutzer": roleUser, "nutzer": roleUser, "customer": roleUser,
}

// roleQualifiers may stand between a role word and its colon:
// "SYSTEM MESSAGE:", "system override:", "[system prompt]".
var roleQualifiers = map[string]bool{
	"message": true, "override": true, "prompt": true, "note": true, "notice": true, "update": true,
	"instructions": true, "instruction": true, "nachricht": true, "mode": true, "alert": true,
	"command": true, "directive": true, "policy": true, "msg": true, "turn": true,
}

// directive concepts make the text after a role marker read as orders.
const directive = cYou | cYour | cInstr | cMust | cObey | cIgnore | cReveal | cUser | cAI | cNew |
	cNot | cPrompt | cPriority | cSay | cLimit | cJailbreak | cTask

// structure adds the delimiter hits.
func (sc *scanner) structure() {
	sc.templateTokens()
	sc.roleMarkers()
	sc.roleTags()
	sc.roleFields()
	sc.markdownExfil()
}

// templateLiterals are chat-template tokens without the <|…|> shape.
var templateLiterals = [][]byte{
	[]byte("[inst]"), []byte("[/inst]"), []byte("<<sys>>"), []byte("<</sys>>"),
	[]byte("<start_of_turn>"), []byte("<end_of_turn>"), []byte("</s>"),
}

// templateTokens finds <|im_start|>, <|system|>, <|endoftext|>, [INST],
// <<SYS>> and the like.
func (sc *scanner) templateTokens() {
	buf := sc.f.buf
	n, roleAfter := 0, false
	first, last := -1, 0
	note := func(s, e int) {
		n++
		if first < 0 {
			first = s
		}
		last = e
		if followedByRole(buf[e:]) || namesRole(buf[s:e]) {
			roleAfter = true
		}
		hs, he := sc.span(int32(s), int32(e))
		sc.addHit(Hit{Rule: "template-token", Category: CatDelimiter, Weight: 0.45, Start: hs, End: he})
	}
	for i := 0; i+3 < len(buf); i++ {
		switch buf[i] {
		case '<':
			if buf[i+1] == '|' {
				j := i + 2
				for j < len(buf) && j-i < 40 && (isWordByte(buf[j]) || buf[j] == '_' || buf[j] == '-') {
					j++
				}
				if j > i+2 && j+1 < len(buf) && buf[j] == '|' && buf[j+1] == '>' {
					note(i, j+2)
					i = j + 1
					continue
				}
			}
			fallthrough
		case '[':
			for _, lit := range templateLiterals {
				if bytes.HasPrefix(buf[i:], lit) {
					note(i, i+len(lit))
					i += len(lit) - 1
					break
				}
			}
		}
	}
	if n >= 2 || roleAfter {
		s, e := sc.span(int32(first), int32(last))
		sc.addHit(Hit{Rule: "template-turn", Category: CatDelimiter, Weight: 0.65, Start: s, End: e})
	}
}

// namesRole reports a template token that names a role: <|system|>.
func namesRole(tok []byte) bool {
	name := bytes.Trim(tok, "<|>[]/")
	return roleWords[string(name)] != roleNone
}

// followedByRole reports a role word right after a template token.
func followedByRole(b []byte) bool {
	b = bytes.TrimLeft(b, " \n")
	n := 0
	for n < len(b) && n < 16 && b[n] >= 'a' && b[n] <= 'z' {
		n++
	}
	return roleWords[string(b[:n])] != roleNone
}

// roleMarkers finds turns written as text: "system:", "[SYSTEM]",
// "### Assistant:", "SYSTEM OVERRIDE:" at the start of a line or
// sentence, or in capitals anywhere.
func (sc *scanner) roleMarkers() {
	toks, buf := sc.toks, sc.f.buf
	seen := [4]bool{}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.fl&tfPiece != 0 {
			continue
		}
		class := roleWords[string(sc.keys[t.ks:t.ke])]
		if class == roleNone {
			continue
		}
		bracket := t.s > 0 && bytes.IndexByte([]byte("[(<#*{|"), buf[t.s-1]) >= 0
		if t.pos != 0 && t.fl&tfAllCaps == 0 && !bracket {
			continue
		}
		// The marker ends at its colon or closing bracket, after at most
		// two qualifier words.
		j := i
		for k := 0; k < 2 && j+1 < len(toks) && toks[j].fl&tfColon == 0 && toks[j+1].sent == t.sent &&
			roleQualifiers[string(sc.keys[toks[j+1].ks:toks[j+1].ke])]; k++ {
			j++
		}
		end := toks[j].e
		closed := toks[j].fl&tfColon != 0
		if !closed && int(end) < len(buf) && bytes.IndexByte([]byte("])>|"), buf[end]) >= 0 {
			closed = bracket
		}
		if !closed {
			closed = aloneOnLine(buf, int(t.s), int(end))
		}
		if !closed {
			continue
		}
		seen[class] = true
		// What follows on the line (or the next line when the marker ends
		// its line) decides whether it reads as orders.
		var follows concept
		for k := j + 1; k < len(toks) && k <= j+40; k++ {
			if k > j+1 && bytes.IndexByte(buf[toks[k-1].e:toks[k].s], '\n') >= 0 {
				break
			}
			follows |= toks[k].c
		}
		w := 0.0
		switch class {
		case roleSystem:
			w = 0.35
			if follows&directive != 0 {
				w = 0.6
			}
		case roleAssistant:
			w = 0.3
			if follows&directive != 0 {
				w = 0.45
			}
		}
		if w > 0 && sc.source == SourceTool {
			w += 0.15
		}
		if w > 0 {
			from, to := t.s, min(end+1, int32(len(buf)))
			if bracket {
				from--
			}
			s, e := sc.span(from, to)
			sc.addHit(Hit{Rule: "role-marker", Category: CatDelimiter, Weight: w, Start: s, End: e})
		}
		i = j
	}
	if seen[roleUser] && (seen[roleAssistant] || seen[roleSystem]) || seen[roleAssistant] && seen[roleSystem] {
		sc.addHit(Hit{Rule: "fake-transcript", Category: CatDelimiter, Weight: 0.45})
	}
}

// aloneOnLine reports a role word that is its line's only word, maybe
// under Markdown heading or emphasis marks: "### SYSTEM", "**System**".
func aloneOnLine(buf []byte, s, e int) bool {
	i := s - 1
	for i >= 0 && bytes.IndexByte([]byte(" #*>=-_"), buf[i]) >= 0 {
		i--
	}
	if i >= 0 && buf[i] != '\n' {
		return false
	}
	for e < len(buf) && bytes.IndexByte([]byte(" #*=-_"), buf[e]) >= 0 {
		e++
	}
	return e >= len(buf) || buf[e] == '\n'
}

var (
	roleTagNames = map[string]bool{
		"system": true, "sys": true, "admin": true, "administrator": true, "developer": true,
		"assistant": true, "instructions": true, "instruction": true, "prompt": true,
		"system_prompt": true, "system-prompt": true, "im_start": true, "override": true,
	}
	closeTagNames = map[string]bool{
		"user": true, "message": true, "input": true, "context": true, "document": true, "data": true,
		"human": true, "query": true, "question": true, "customer": true, "tool_output": true,
		"tool_result": true, "user_input": true, "conversation": true,
	}
)

// roleTags finds <system>, </user>, <admin> and the like.
func (sc *scanner) roleTags() {
	buf := sc.f.buf
	for i := 0; i < len(buf); i++ {
		if buf[i] != '<' {
			continue
		}
		j := i + 1
		closing := j < len(buf) && buf[j] == '/'
		if closing {
			j++
		}
		k := j
		for k < len(buf) && k-j < 24 && (isWordByte(buf[k]) || buf[k] == '_' || buf[k] == '-') {
			k++
		}
		if k == j || k >= len(buf) || buf[k] != '>' && buf[k] != ' ' {
			continue
		}
		name := string(buf[j:k])
		end := bytes.IndexByte(buf[k:min(len(buf), k+64)], '>')
		if end < 0 {
			continue
		}
		end += k + 1
		s, e := sc.span(int32(i), int32(end))
		switch {
		case roleTagNames[name]:
			sc.addHit(Hit{Rule: "role-tag", Category: CatDelimiter, Weight: 0.45, Start: s, End: e})
		case closing && closeTagNames[name]:
			sc.addHit(Hit{Rule: "close-tag", Category: CatDelimiter, Weight: 0.4, Start: s, End: e})
		}
		i = end - 1
	}
}

// roleFields finds "role": "system" in JSON and role: system in YAML.
// Developers paste such messages when asking about an API, so alone it
// weighs little; an injection says more in its content.
func (sc *scanner) roleFields() {
	buf := sc.f.buf
	for from, n := 0, 0; n < 64; n++ {
		i := bytes.Index(buf[from:], []byte("role"))
		if i < 0 {
			return
		}
		i += from
		from = i + 4
		j := from
		for j < len(buf) && (buf[j] == '"' || buf[j] == '\'' || buf[j] == ' ') {
			j++
		}
		if j >= len(buf) || buf[j] != ':' && buf[j] != '=' {
			continue
		}
		j++
		for j < len(buf) && (buf[j] == '"' || buf[j] == '\'' || buf[j] == ' ') {
			j++
		}
		k := j
		for k < len(buf) && buf[k] >= 'a' && buf[k] <= 'z' {
			k++
		}
		switch string(buf[j:k]) {
		case "system", "developer", "assistant":
			w := 0.3
			if sc.conceptsAfter(int32(k), 40)&strongDirective != 0 {
				w = 0.55
			}
			s, e := sc.span(int32(i), int32(k))
			sc.addHit(Hit{Rule: "role-field", Category: CatDelimiter, Weight: w, Start: s, End: e})
		}
	}
}

// strongDirective concepts make a message's content read as orders even
// when developers paste messages: "You are a helpful assistant" has none.
const strongDirective = cIgnore | cInstr | cReveal | cObey | cJailbreak | cLimit | cNot | cMust |
	cPriority | cNew | cVoid | cPrompt

// conceptsAfter returns the union of the concepts of the n tokens that
// start at or after folded offset at.
func (sc *scanner) conceptsAfter(at int32, n int) concept {
	var c concept
	i := sort.Search(len(sc.toks), func(i int) bool { return sc.toks[i].s >= at })
	for _, t := range sc.toks[i:min(len(sc.toks), i+n)] {
		c |= t.c
	}
	return c
}

// markdownExfil finds a Markdown image whose URL carries a placeholder for
// data: the model renders it, the client fetches it, the data leaves.
func (sc *scanner) markdownExfil() {
	buf := sc.f.buf
	for from, n := 0, 0; n < 64; n++ {
		i := bytes.Index(buf[from:], []byte("]("))
		if i < 0 {
			return
		}
		i += from
		from = i + 2
		img := bytes.LastIndex(buf[max(0, i-200):i], []byte("!["))
		if img < 0 {
			continue
		}
		end := bytes.IndexByte(buf[from:min(len(buf), from+2000)], ')')
		if end < 0 {
			continue
		}
		url := buf[from : from+end]
		if bytes.IndexByte(url, '?') < 0 {
			continue
		}
		if bytes.ContainsAny(url, "{$<") || bytes.Contains(url, []byte("%7b")) {
			s, e := sc.span(int32(max(0, i-200)+img), int32(from+end+1))
			sc.addHit(Hit{Rule: "markdown-exfil", Category: CatIndirect, Weight: 0.55, Start: s, End: e})
		}
	}
}
