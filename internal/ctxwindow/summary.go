package ctxwindow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Job asks for a session's summary to cover its turns 1..To. It is what a
// summary message on Q2 carries.
type Job struct {
	Tenant  string `json:"tenant"`
	Session string `json:"session"`
	// Agent is the agent whose policy and small model summarise.
	Agent string `json:"agent"`
	// From is the first turn that left the window, for logs; a fold
	// always starts after what the summary covers.
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// ID is the job's idempotency key, the message ID it is published with:
// the session and the turn range, so a job published twice is stored
// once.
func (j Job) ID() string {
	h := sha256.Sum256([]byte(j.Tenant + "\x00" + j.Session))
	return "sum-" + hex.EncodeToString(h[:12]) + "-" + strconv.FormatInt(j.From, 10) + "-" + strconv.FormatInt(j.To, 10)
}

// Completer answers a chat completion; *router.Router satisfies it.
type Completer interface {
	Complete(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// SummaryStore reads a session's turns after its summary and replaces the
// summary; every store backend satisfies it.
type SummaryStore interface {
	LoadSince(ctx context.Context, tenant, id string, afterSeq int64, maxTurns int) (*store.Session, error)
	SetSummary(ctx context.Context, tenant, id string, expectVersion int64, sum store.Summary, facts json.RawMessage) (int64, error)
}

// Outcomes of a summary job, as Observer.Summarized reports them.
const (
	// OutcomeFolded: the summary now covers the job's turns.
	OutcomeFolded = "folded"
	// OutcomeShortened: folded, after asking the model to shorten an
	// over-long summary.
	OutcomeShortened = "shortened"
	// OutcomeTruncated: folded, with the summary cut at a sentence after
	// the model could not keep it within the cap.
	OutcomeTruncated = "truncated"
	// OutcomeUpToDate: the summary already covered the job's turns (a
	// redelivery, or a later job got there first).
	OutcomeUpToDate = "up_to_date"
	// OutcomeGone: the session no longer exists.
	OutcomeGone = "gone"
	// OutcomeError: the model or the store failed; the job will be
	// delivered again.
	OutcomeError = "error"
)

// FoldResult is what a summary job did.
type FoldResult struct {
	// Outcome is one of the Outcome constants but OutcomeError.
	Outcome string
	// UpToSeq is what the summary covers now.
	UpToSeq int64
	// Turns is how many turns were folded in.
	Turns int
	// Summary is the new summary's text.
	Summary string
	// Unreachable counts the facts of the folded turns that the next
	// request would hold neither in its facts block nor in its window.
	Unreachable int
}

// Limits of one fold.
const (
	// foldChunkTurns is the most turns one summarising call reads; longer
	// backlogs are folded chunk by chunk.
	foldChunkTurns = 20
	// foldToolBytes caps the part of a tool result a summarising call reads.
	foldToolBytes = 400
	// foldAttempts bounds the retries of a fold that lost a race with
	// another worker.
	foldAttempts = 3
)

// Fold makes the session's summary cover turns 1..job.To: it reads the
// turns after the current summary, asks the small model to fold those up
// to job.To into the summary (capped at Policy.SummaryTokens: over the cap
// it asks once for a shorter one, then cuts at a sentence), pins the facts
// of the folded turns, and writes summary and facts with a compare-and-set
// on the summary's version, so that concurrent or repeated jobs never go
// backwards: a job whose turns are already covered does nothing. It then
// checks that every fact of the folded turns is still reachable, in the
// facts the next request sees, and reports those that are not.
//
// A nil error means the job is done (including a session deleted since);
// an error means it should be delivered again.
func (m *Manager) Fold(ctx context.Context, model Completer, st SummaryStore, job Job) (FoldResult, error) {
	t0 := time.Now()
	res, err := m.fold(ctx, model, st, job)
	outcome := res.Outcome
	if err != nil {
		outcome = OutcomeError
	}
	m.obs.Summarized(m.agent, outcome, time.Since(t0))
	if res.Unreachable > 0 {
		m.obs.FactsUnreachable(m.agent, res.Unreachable)
		m.log.Warn("pinned facts unreachable after a summary; raise context.facts.max",
			"agent", m.agent, "facts", res.Unreachable, "max", m.policy.Facts.Max)
	}
	return res, err
}

func (m *Manager) fold(ctx context.Context, model Completer, st SummaryStore, job Job) (FoldResult, error) {
	for attempt := 1; ; attempt++ {
		sess, err := st.LoadSince(ctx, job.Tenant, job.Session, -1, 0)
		if errors.Is(err, store.ErrNotFound) {
			return FoldResult{Outcome: OutcomeGone}, nil
		}
		if err != nil {
			return FoldResult{}, fmt.Errorf("load session: %w", err)
		}
		sum := sess.Summary
		if sum.UpToSeq >= job.To || sum.UpToSeq >= sess.TurnCount {
			return FoldResult{Outcome: OutcomeUpToDate, UpToSeq: sum.UpToSeq}, nil
		}
		to := min(job.To, sess.TurnCount)
		var leaving, rest []store.Turn
		for i := range sess.Turns {
			if sess.Turns[i].Seq <= to {
				leaving = append(leaving, sess.Turns[i])
			} else {
				rest = append(rest, sess.Turns[i])
			}
		}
		res := FoldResult{Outcome: OutcomeFolded, UpToSeq: to, Turns: len(leaving)}
		text := sum.Text
		for start := 0; start < len(leaving); start += foldChunkTurns {
			chunk := leaving[start:min(start+foldChunkTurns, len(leaving))]
			var how string
			text, how, err = m.summarize(ctx, model, text, chunk)
			if err != nil {
				return FoldResult{}, err
			}
			if how == OutcomeTruncated || (how == OutcomeShortened && res.Outcome == OutcomeFolded) {
				res.Outcome = how
			}
		}
		facts, ferr := DecodeFacts(sess.Facts)
		if ferr != nil {
			m.log.Warn("stored facts unreadable; pinning afresh", "agent", m.agent, "err", ferr)
		}
		for i := range leaving {
			m.Mention(facts, leaving[i].Messages, leaving[i].Seq)
		}
		facts.Bound(m.policy.Facts.Max)
		stored := facts.Encode()
		_, err = st.SetSummary(ctx, job.Tenant, job.Session, sum.Version, store.Summary{Text: text, UpToSeq: to}, stored)
		if errors.Is(err, store.ErrConflict) && attempt < foldAttempts {
			continue // another fold got there first: start from its summary
		}
		if errors.Is(err, store.ErrNotFound) {
			return FoldResult{Outcome: OutcomeGone}, nil
		}
		if err != nil {
			return FoldResult{}, fmt.Errorf("store summary: %w", err)
		}
		res.Summary = text
		res.Unreachable = m.unreachable(stored, to, leaving, rest)
		return res, nil
	}
}

// unreachable counts the facts of the leaving turns that the facts the
// next request sees (the stored ones plus those of the turns still
// un-summarised, bounded) do not hold.
func (m *Manager) unreachable(stored json.RawMessage, upTo int64, leaving, rest []store.Turn) int {
	view, _ := m.Facts(stored, upTo, rest)
	n := 0
	seen := map[factID]bool{}
	for i := range leaving {
		for j := range leaving[i].Messages {
			for _, x := range m.facts.Message(&leaving[i].Messages[j]) {
				k := factID{x.Kind, x.Key}
				if seen[k] {
					continue
				}
				seen[k] = true
				if !view.Has(x.Kind, x.Key) {
					n++
				}
			}
		}
	}
	return n
}

// summaryInstruction is the small model's system prompt.
func summaryInstruction(cap int) string {
	return "You keep the running summary of a customer-service conversation. Fold the new turns into the " +
		"summary so far and reply with the updated summary only: what the customer asked for, what was done " +
		"and what is still open, in plain sentences. Copy order numbers, tracking numbers, return numbers, " +
		"amounts with their currency, dates, email addresses, phone numbers and SKUs exactly as written. " +
		"Write at most " + strconv.Itoa(cap) + " tokens."
}

// summarize folds turns into the summary prev and returns the new text
// and how it was kept within the cap ("" when the first answer fit).
func (m *Manager) summarize(ctx context.Context, model Completer, prev string, turns []store.Turn) (string, string, error) {
	limit := m.policy.SummaryTokens
	maxOut := 2 * limit
	req := &llm.Request{Model: m.summaryModel, MaxCompletionTokens: &maxOut, Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: llm.Text(summaryInstruction(limit))},
		{Role: llm.RoleUser, Content: llm.Text(transcript(prev, turns))},
	}}
	text, err := complete(ctx, model, req)
	if err != nil {
		return "", "", err
	}
	n := m.summaryCounter.Count(text)
	if n <= limit {
		return text, "", nil
	}
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, Content: llm.Text(text)},
		llm.Message{Role: llm.RoleUser, Content: llm.Text(fmt.Sprintf("That summary is %d tokens; the limit is %d. "+
			"Rewrite it shorter, in at most %d tokens: leave out detail, keep what is still open and every "+
			"order number, amount, date, email, phone number and SKU exactly as written.", n, limit, limit*3/4))})
	short, err := complete(ctx, model, req)
	if err == nil && short != "" {
		if m.summaryCounter.Count(short) <= limit {
			return short, OutcomeShortened, nil
		}
		if m.summaryCounter.Count(short) < n {
			text = short
		}
	}
	return truncateSentences(m.summaryCounter, text, limit), OutcomeTruncated, nil
}

// complete makes one summarising call and returns its text, cleaned.
func complete(ctx context.Context, model Completer, req *llm.Request) (string, error) {
	resp, err := model.Complete(ctx, req)
	if err != nil {
		return "", fmt.Errorf("summarise: %w", err)
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("summarise: the model returned no answer")
	}
	text := cleanSummary(resp.Choices[0].Message.Content.String())
	if text == "" {
		return "", errors.New("summarise: the model returned an empty summary")
	}
	return text, nil
}

// cleanSummary trims a summary and drops a leading label such as
// "Summary:" or "Summary of the conversation so far:", which models add
// and which would make the system prompt it goes into read as a request
// to summarise.
func cleanSummary(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 60 && strings.Contains(strings.ToLower(s[:i]), "summar") {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// transcript writes the summary so far and the turns to fold in, one line
// per message: "Customer:", "Assistant:" and "Tool:" lines, tool results
// cut at foldToolBytes.
func transcript(prev string, turns []store.Turn) string {
	var b strings.Builder
	b.WriteString("Summary so far:\n")
	if prev == "" {
		b.WriteString("(none yet)")
	} else {
		b.WriteString(oneLine(prev))
	}
	b.WriteString("\n\nNew turns to fold in:")
	names := map[string]string{}
	for i := range turns {
		for j := range turns[i].Messages {
			m := &turns[i].Messages[j]
			text := oneLine(m.Content.String())
			switch m.Role {
			case llm.RoleUser:
				b.WriteString("\nCustomer: ")
				b.WriteString(text)
			case llm.RoleAssistant:
				if text != "" {
					b.WriteString("\nAssistant: ")
					b.WriteString(text)
				}
				for _, c := range m.ToolCalls {
					names[c.ID] = c.Function.Name
					b.WriteString("\nAssistant: [calls ")
					b.WriteString(c.Function.Name)
					b.WriteByte(' ')
					b.WriteString(cut(oneLine(c.Function.Arguments), foldToolBytes))
					b.WriteByte(']')
				}
			case llm.RoleTool:
				b.WriteString("\nTool: ")
				if n := names[m.ToolCallID]; n != "" {
					b.WriteString(n)
					b.WriteString(" returned ")
				}
				b.WriteString(cut(text, foldToolBytes))
			}
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cut shortens s to at most n bytes, at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// truncateSentences returns the longest run of whole sentences of text
// within limit tokens; when even the first sentence is over, as many
// whole words as fit, marked with "…".
func truncateSentences(c Counter, text string, limit int) string {
	best := ""
	for i := 0; i < len(text); i++ {
		if ch := text[i]; ch != '.' && ch != '!' && ch != '?' {
			continue
		}
		if i+1 < len(text) && text[i+1] != ' ' && text[i+1] != '\n' {
			continue // a decimal point, an abbreviation inside a word
		}
		cand := text[:i+1]
		if c.Count(cand) > limit {
			break
		}
		best = cand
	}
	if best != "" {
		return best
	}
	words := strings.Fields(text)
	out := ""
	for _, w := range words {
		next := w
		if out != "" {
			next = out + " " + w
		}
		if c.Count(next+"…") > limit {
			break
		}
		out = next
	}
	if out == "" {
		return ""
	}
	return out + "…"
}
