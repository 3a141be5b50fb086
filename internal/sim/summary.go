package sim

import (
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// conversationWords, next to a summarise word in a system prompt, make it a
// request to summarise the conversation (rather than, say, an instruction to
// summarise tool results).
var conversationWords = []string{
	"conversation", "chat", "dialog*", "dialogue", "transcript", "history", "messages", "exchange",
	"gespräch*", "unterhaltung", "verlauf", "conversación", "historial",
}

var userPrefixes = []string{"user:", "customer:", "client:", "human:", "kunde:", "utilisateur:", "usuario:"}
var otherPrefixes = []string{"assistant:", "agent:", "bot:", "ai:", "support:", "system:", "tool:"}

// summaryRequested reports whether the last user message, or a system or
// developer message about the conversation, asks for a summary.
func (s *Sim) summaryRequested(t *turn) bool {
	if mentionsSummary(t.text) && anyKeyword(t.text, kwSummarize) {
		return true
	}
	return summaryInstruction(t.req.Messages) >= 0
}

// summaryInstruction returns the index of the system or developer message
// asking to summarise the conversation, or -1.
func summaryInstruction(msgs []llm.Message) int {
	for i := range msgs {
		m := &msgs[i]
		if m.Role != llm.RoleSystem && m.Role != llm.RoleDeveloper {
			continue
		}
		text := m.Content.String()
		if !mentionsSummary(text) {
			continue
		}
		h := scanKeywords(text)
		if h.any(kwSummarize) && h.any(kwConversation) {
			return i
		}
	}
	return -1
}

// mentionsSummary is a cheap filter before scanning a long system prompt
// for summarise words: each of them contains one of these stems.
func mentionsSummary(s string) bool {
	return strings.Contains(s, "ummar") || strings.Contains(s, "UMMAR") || strings.Contains(s, "um up") ||
		strings.Contains(s, "esum") || strings.Contains(s, "ésum") || strings.Contains(s, "ESUM") ||
		strings.Contains(s, "usammenfass")
}

// summaryGroup is one user intent of the conversation and its entities.
type summaryGroup struct {
	in    intent
	query string
	ents  []entity
}

// summary writes one sentence per user intent with its entities, each
// entity dropped with probability SummaryLoss.
func (s *Sim) summary(t *turn) reply {
	instr := summaryInstruction(t.req.Messages)
	if anyKeyword(t.text, kwSummarize) {
		instr = t.lastUser
	}
	var groups []summaryGroup
	addLine := func(line string) {
		line = strings.TrimSpace(line)
		if line == "" {
			return
		}
		ents := extractEntities(line)
		cls := classify(line, ents)
		in := cls.primary
		switch in {
		case intentSmallTalk, intentRecall, intentSummarize:
			if len(ents) == 0 {
				return
			}
			in = intentUnknown
		case intentUnknown:
			if len(ents) == 0 {
				return
			}
		}
		for i := range groups {
			if groups[i].in == in {
				groups[i].ents = appendNew(groups[i].ents, ents)
				return
			}
		}
		g := summaryGroup{in: in, ents: appendNew(nil, ents)}
		if in == intentProduct {
			g.query = firstWords(queryOf(line, ents, false), 6)
		}
		groups = append(groups, g)
	}
	for i := range t.req.Messages {
		m := &t.req.Messages[i]
		switch m.Role {
		case llm.RoleUser, llm.RoleSystem, llm.RoleDeveloper:
		default:
			continue
		}
		for line := range strings.Lines(m.Content.String()) {
			l := strings.ToLower(strings.TrimSpace(line))
			switch {
			case hasAnyPrefix(l, otherPrefixes):
				continue
			case hasAnyPrefix(l, userPrefixes):
				line = line[strings.IndexByte(line, ':')+1:]
			case i == instr || m.Role != llm.RoleUser:
				// The instruction itself and system prompts only contribute
				// lines that carry entities (facts, earlier summaries).
				if len(extractEntities(line)) == 0 {
					continue
				}
			}
			addLine(line)
		}
	}
	r := newRNG(t.hashes.full, saltSummary)
	var b strings.Builder
	b.WriteString("Summary of the conversation so far:")
	for _, g := range groups {
		b.WriteByte(' ')
		b.WriteString(groupSentence(g, s.cfg.SummaryLoss, &r))
	}
	if len(groups) == 0 {
		b.WriteString(" The customer has not made a specific request yet, and no order numbers or other details were given.")
	} else {
		b.WriteString(" No other requests were made, and nothing else is pending.")
	}
	return reply{content: b.String(), finish: llm.FinishStop, intent: intentSummarize, complexity: Standard}
}

// maxSummaryEntities caps the entities of one sentence, keeping summaries
// within 120 tokens.
const maxSummaryEntities = 5

var groupPhrases = map[intent]string{
	intentOrderStatus: "The customer asked about the status of their order",
	intentShipment:    "The customer asked when their delivery would arrive",
	intentReturn:      "The customer wants to return an item and get a refund",
	intentProduct:     "The customer asked about a product",
	intentUnknown:     "The customer gave their details",
}

func groupSentence(g summaryGroup, loss float64, r *rng) string {
	var b strings.Builder
	b.WriteString(groupPhrases[g.in])
	if g.query != "" {
		b.WriteString(" (" + g.query + ")")
	}
	var kept []string
	for _, e := range g.ents {
		if r.chance(loss) || len(kept) == maxSummaryEntities {
			continue
		}
		kept = append(kept, entityLabel(e))
	}
	if len(kept) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(kept, ", "))
	}
	b.WriteByte('.')
	return b.String()
}

func entityLabel(e entity) string {
	switch e.kind {
	case entOrder:
		return "order " + e.value
	case entTracking:
		return "tracking number " + e.value
	case entEmail:
		return "email " + e.value
	case entPhone:
		return "phone " + e.value
	case entSKU:
		return "SKU " + e.value
	}
	return "amount " + e.value
}

func appendNew(dst, src []entity) []entity {
	for _, e := range src {
		dup := false
		for _, d := range dst {
			if d.kind == e.kind && d.value == e.value {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, e)
		}
	}
	return dst
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
