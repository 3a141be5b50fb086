package promptfilter

import (
	"context"
	"errors"
	"maps"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// ErrInjection is the cause inside the *llm.Error of a blocked request
// (errors.Is(err, ErrInjection)).
var ErrInjection = errors.New("promptfilter: prompt injection")

// Filter applies the detector and each tenant's policy to requests and
// tool results. It is safe for concurrent use and holds no goroutine.
type Filter struct {
	det     *Detector
	def     Policy
	tenants map[string]Policy
	guard   *guard // nil: no classifier stage
	band    [2]float64
	onFind  func(Finding)
}

// New validates cfg, fills in its defaults and returns a Filter. guard is
// the endpoint of the classifier stage (the gateway's router or a
// provider client); it is used only when cfg.Guard.Model is set, and may
// be nil otherwise.
func New(cfg Config, guard Completer) (*Filter, error) {
	cfg.Tenants = maps.Clone(cfg.Tenants)
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	f := &Filter{
		det:     NewDetector(cfg.MaxScanBytes),
		def:     cfg.Default,
		tenants: cfg.Tenants,
		band:    [2]float64{cfg.Guard.Low, cfg.Guard.High},
		onFind:  cfg.OnFinding,
	}
	if cfg.Guard.Model != "" {
		if guard == nil {
			return nil, errors.New("promptfilter: guard.model is set but no guard endpoint was given")
		}
		f.guard = newGuard(guard, cfg.Guard)
	}
	return f, nil
}

// Detector returns the filter's detector, for scoring without a policy.
func (f *Filter) Detector() *Detector { return f.det }

// Policy returns tenant's policy, defaults filled in.
func (f *Filter) Policy(tenant string) Policy {
	if p, ok := f.tenants[tenant]; ok {
		return p
	}
	return f.def
}

// Finding is the filter's judgement of one text.
type Finding struct {
	Tenant string
	Source Source
	// Index is the message's index in the request; -1 for a tool result
	// checked with CheckToolResult.
	Index int
	// Tool names the tool of a tool result, when known.
	Tool string
	// Result is the rule stage's score and evidence.
	Result
	// Detected is the final judgement: score over the threshold, or the
	// classifier's verdict, or the fail policy.
	Detected bool
	Guard    GuardOutcome
	// GuardErr is why the classifier stage failed (GuardFailed).
	GuardErr error
	// Action is what was done about it.
	Action Action
}

// maxGuardCalls bounds the classifier calls of one request, so that a
// long history in the band costs at most this many time-outs; texts
// beyond keep their rule verdict.
const maxGuardCalls = 3

// judge scores text and settles the verdict, asking the classifier stage
// when the score is in its band and guardLeft allows.
func (f *Filter) judge(ctx context.Context, p Policy, text string, src Source, guardLeft *int) Finding {
	r := f.det.Scan(text, src)
	fd := Finding{Source: src, Result: r, Detected: r.Score >= p.Threshold}
	if f.guard == nil || !p.guardOn() || r.Score < f.band[0] || r.Score >= f.band[1] || *guardLeft <= 0 {
		return fd
	}
	*guardLeft--
	inj, err := f.guard.classify(ctx, text, src)
	switch {
	case err != nil:
		fd.Guard, fd.GuardErr = GuardFailed, err
		if f.guard.cfg.FailPolicy == FailClosed {
			fd.Detected = true
		}
	case inj:
		fd.Guard, fd.Detected = GuardInjection, true
	default:
		fd.Guard, fd.Detected = GuardSafe, false
	}
	return fd
}

func (f *Filter) report(fd Finding) {
	if f.onFind != nil && (fd.Detected || fd.Guard != GuardNotCalled) {
		f.onFind(fd)
	}
}

// Verdict is the outcome of checking a request.
type Verdict struct {
	// Action is the strongest action taken: ActionBlock, ActionSanitise,
	// ActionQuarantine, ActionFlag, or ActionAllow.
	Action Action
	// Messages are the messages to forward: the request's own slice when
	// nothing was changed, a new slice (with new messages where changed)
	// when sanitised or quarantined. Nil when blocked.
	Messages []llm.Message
	// Findings are the texts judged injections or sent to the classifier,
	// latest message first.
	Findings []Finding
}

// Blocked reports whether the request must be refused.
func (v Verdict) Blocked() bool { return v.Action == ActionBlock }

// Err returns the error to answer a blocked request with — an *llm.Error
// of kind content_filter, status 400, code "content_filter", in OpenAI's
// shape through the gateway's usual error path — or nil.
func (v Verdict) Err() error {
	if !v.Blocked() {
		return nil
	}
	var cats Category
	for _, fd := range v.Findings {
		if fd.Detected {
			cats |= fd.Categories
		}
	}
	msg := "The request was rejected by the prompt filter: it appears to contain a prompt injection"
	if s := cats.String(); s != "" {
		msg += " (" + s + ")"
	}
	return &llm.Error{Kind: llm.KindContentFilter, Code: "content_filter", Param: "messages", Message: msg + ".", Err: ErrInjection}
}

// actionRank orders actions by strength for Verdict.Action.
func actionRank(a Action) int {
	switch a {
	case ActionBlock:
		return 4
	case ActionSanitise:
		return 3
	case ActionQuarantine:
		return 2
	case ActionFlag:
		return 1
	}
	return 0
}

// Check scans a request's messages for tenant and applies its policy, once
// per request, before admission. User messages are scanned as SourceUser
// with the tenant's Action; tool messages the client sent (results of its
// own tools) as SourceTool with its ToolAction. System, developer and
// assistant messages are the tenant's and the model's own and are not
// scanned. Every user message is scanned, not only the last: a client
// resends its history, and an injection in it reaches the model again.
func (f *Filter) Check(ctx context.Context, tenant string, msgs []llm.Message) Verdict {
	p := f.Policy(tenant)
	v := Verdict{Action: ActionAllow, Messages: msgs}
	var out []llm.Message // copy on first change
	guardLeft := maxGuardCalls
	// The latest messages are the ones the guard is most worth asking
	// about, so scan from the end.
	for i := len(msgs) - 1; i >= 0; i-- {
		m := &msgs[i]
		var src Source
		var act Action
		switch m.Role {
		case llm.RoleUser:
			src, act = SourceUser, p.Action
		case llm.RoleTool:
			src, act = SourceTool, p.ToolAction
		default:
			continue
		}
		if act == ActionOff {
			continue
		}
		text := m.Content.String()
		if text == "" {
			continue
		}
		fd := f.judge(ctx, p, text, src, &guardLeft)
		fd.Tenant, fd.Index = tenant, i
		if !fd.Detected {
			f.keep(&v, fd)
			continue
		}
		fd.Action = act
		switch act {
		case ActionSanitise, ActionQuarantine:
			if out == nil {
				out = append([]llm.Message(nil), msgs...)
			}
			out[i] = f.rewrite(*m, text, fd.Result, src)
		}
		if actionRank(act) > actionRank(v.Action) {
			v.Action = act
		}
		f.keep(&v, fd)
	}
	switch {
	case v.Action == ActionBlock:
		v.Messages = nil
	case out != nil:
		v.Messages = out
	}
	return v
}

func (f *Filter) keep(v *Verdict, fd Finding) {
	if fd.Detected || fd.Guard != GuardNotCalled {
		v.Findings = append(v.Findings, fd)
		f.report(fd)
	}
}

// rewrite returns m with its text sanitised (user) or quarantined (tool).
// Plain content is rewritten from the Result already computed; array
// content has each text part rescanned and rewritten on its own, so that
// spans match, and other parts kept.
func (f *Filter) rewrite(m llm.Message, text string, r Result, src Source) llm.Message {
	clean := func(s string, r Result) string {
		if src == SourceTool {
			return Quarantine(m.Name, s, r)
		}
		return Sanitise(s, r)
	}
	if m.Content.Parts == nil {
		m.Content = llm.Text(clean(text, r))
		return m
	}
	parts := make([]llm.ContentPart, len(m.Content.Parts))
	copy(parts, m.Content.Parts)
	for i := range parts {
		if parts[i].Type == llm.PartText && parts[i].Text != "" {
			parts[i].Text = clean(parts[i].Text, f.det.Scan(parts[i].Text, src))
		}
	}
	m.Content = llm.PartsContent(parts...)
	return m
}

// ToolVerdict is the outcome of checking one tool result.
type ToolVerdict struct {
	// Action is ActionQuarantine, ActionBlock, ActionFlag or ActionAllow.
	Action Action
	// Content is what the model should see: the result unchanged, its
	// quarantined form (Quarantine), or a notice that it was withheld.
	Content string
	// Finding is set when the result was judged an injection or sent to
	// the classifier.
	Finding *Finding
}

// CheckToolResult scans the content a tool returned during a run for
// tenant (indirect injection) and returns what the engine should pass to
// the model in the tool message instead. tool names the tool; content is
// the tool message's content as the engine built it.
func (f *Filter) CheckToolResult(ctx context.Context, tenant, tool, content string) ToolVerdict {
	p := f.Policy(tenant)
	tv := ToolVerdict{Action: ActionAllow, Content: content}
	if p.ToolAction == ActionOff || content == "" {
		return tv
	}
	guardLeft := 1
	fd := f.judge(ctx, p, content, SourceTool, &guardLeft)
	fd.Tenant, fd.Index, fd.Tool = tenant, -1, tool
	if fd.Detected {
		fd.Action = p.ToolAction
		tv.Action = p.ToolAction
		switch p.ToolAction {
		case ActionQuarantine:
			tv.Content = Quarantine(tool, content, fd.Result)
		case ActionBlock:
			tv.Content = withheld(tool, fd.Result)
		}
	}
	if fd.Detected || fd.Guard != GuardNotCalled {
		tv.Finding = &fd
		f.report(fd)
	}
	return tv
}
