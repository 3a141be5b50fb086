package handoff

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Status is where a ticket stands.
type Status string

// Ticket statuses: open until a person claims it, claimed while a person
// works on it, resolved when the session goes back to the agent. A
// session is handed off while its ticket is open or claimed.
const (
	StatusOpen     Status = "open"
	StatusClaimed  Status = "claimed"
	StatusResolved Status = "resolved"
)

// Active reports whether a ticket of this status holds its session.
func (s Status) Active() bool { return s == StatusOpen || s == StatusClaimed }

func (s Status) valid() bool { return s == StatusOpen || s == StatusClaimed || s == StatusResolved }

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no ticket (or event) of that id.
	ErrNotFound = errors.New("handoff: not found")
	// ErrConflict: the transition is not allowed from the ticket's
	// status (claiming a resolved ticket, claiming one another person
	// holds, resolving twice, appending to a resolved ticket). HTTP 409.
	ErrConflict = errors.New("handoff: conflict")
	// ErrInvalid: the request lacks what it needs (a tenant, a session,
	// who claims). HTTP 400.
	ErrInvalid = errors.New("handoff: invalid")
)

// Limits on what a ticket keeps, so that one ticket stays small.
const (
	// MaxTurnChars caps the text of one turn or message, in runes.
	MaxTurnChars = 2000
	// MaxTurns caps the conversation turns a ticket keeps (the newest).
	MaxTurns = 20
	// MaxMessages caps the user messages appended while handed off (the
	// newest are kept).
	MaxMessages = 200
)

// Ticket is one handoff of a session to people. Its JSON form is what the
// admin API and the webhooks carry.
type Ticket struct {
	// ID is set by Open: "ho_" and 20 hex digits.
	ID string `json:"id"`
	// Tenant and Session identify the handed-off conversation; required.
	Tenant  string `json:"tenant"`
	Session string `json:"session_id"`
	// User is the end user, if known.
	User string `json:"user_id,omitempty"`
	// Agent is the agent that handed off.
	Agent string `json:"agent,omitempty"`
	// Reason says why: a ladder trigger ("model_error", "budget") or the
	// model's words from escalate_to_human.
	Reason string `json:"reason,omitempty"`
	// Priority orders the queue of open tickets: higher first. The
	// caller derives it from the tenant's tier and the urgency.
	Priority int `json:"priority"`
	// Lang is the user's language (a tag's primary subtag, "en" when
	// empty); acknowledgements are written in it.
	Lang string `json:"lang,omitempty"`
	// Summary is the conversation's summary, if the context window has
	// one.
	Summary string `json:"summary,omitempty"`
	// Facts are the session's pinned facts by kind ("order_number" →
	// ["100123"]).
	Facts map[string][]string `json:"facts,omitempty"`
	// Turns are the last turns of the conversation before the handoff,
	// oldest first (see CompactTurns).
	Turns []Turn `json:"turns,omitempty"`
	// Messages are the user's messages sent while handed off, oldest
	// first.
	Messages []Turn `json:"messages,omitempty"`
	// Status is open, claimed or resolved.
	Status Status `json:"status"`
	// ClaimedBy is who claimed the ticket; ResolvedBy who resolved it.
	ClaimedBy  string `json:"claimed_by,omitempty"`
	ResolvedBy string `json:"resolved_by,omitempty"`
	// Resolution is the resolver's note, for the agent taking the session
	// back.
	Resolution string `json:"resolution,omitempty"`
	// Version counts the ticket's changes from 1; event ids are
	// "<ticket id>.<version>".
	Version   int64      `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
	// ResolvedAt is set once the ticket is resolved.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Turn is one message of a conversation in compact form: who said what.
type Turn struct {
	// Role is user, assistant or tool.
	Role string `json:"role"`
	// Content is the text, at most MaxTurnChars runes; an assistant's
	// tool calls are written as "→ name(arguments)" lines.
	Content string `json:"content"`
	// At is when it was said, when known.
	At *time.Time `json:"at,omitempty"`
}

// CompactTurns turns the messages of a conversation into the compact
// turns a ticket keeps: the last n (MaxTurns when n <= 0 or larger) user,
// assistant and tool messages with text, each capped at MaxTurnChars
// runes. System and developer messages are dropped: they are the agent's
// instructions, not the conversation.
func CompactTurns(msgs []llm.Message, n int) []Turn {
	if n <= 0 || n > MaxTurns {
		n = MaxTurns
	}
	var out []Turn
	for i := len(msgs) - 1; i >= 0 && len(out) < n; i-- {
		m := &msgs[i]
		var b strings.Builder
		switch m.Role {
		case llm.RoleUser, llm.RoleAssistant, llm.RoleTool:
		default:
			continue
		}
		b.WriteString(m.Content.String())
		for _, tc := range m.ToolCalls {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("→ ")
			b.WriteString(tc.Function.Name)
			b.WriteByte('(')
			b.WriteString(tc.Function.Arguments)
			b.WriteByte(')')
		}
		text := strings.TrimSpace(b.String())
		if text == "" {
			continue
		}
		out = append(out, Turn{Role: m.Role, Content: clip(text, MaxTurnChars)})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// clip cuts s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// Filter selects tickets for List.
type Filter struct {
	// Status, if set, keeps tickets of that status.
	Status Status
	// Tenant, if set, keeps the tickets of that tenant.
	Tenant string
	// Limit caps the tickets returned: default 50, at most 500.
	Limit int
}

// Default and maximum of Filter.Limit.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

func (f *Filter) normalise() {
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	if f.Limit > MaxListLimit {
		f.Limit = MaxListLimit
	}
}
