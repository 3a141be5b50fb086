package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
	"github.com/floodgate-dev/floodgate/internal/router"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Notes the engine adds to the system prompt.
const (
	noteFinal      = "Answer the customer now from the information you already have; do not call any tool."
	noteBudget     = "The tool-call budget of this request is spent: " + noteFinal
	noteNoUser     = "no user is known for this conversation, so nothing can be saved"
	stateHandedOff = "handed_off"
)

// errRunDeadline is the cause of a run's context ending at its agent's
// Deadline.
var errRunDeadline = errors.New("the run's deadline passed")

// Run runs one turn of a conversation: it takes the session's writer lease
// (waiting for a turn in progress to finish), calls the model and the
// tools the model asks for until the model answers or a limit makes it
// answer, follows handoffs, stores the turn, updates the user's shared
// state and hands its usage records to Config.Usage.
//
// A run that produced a Result returns it with a nil error, whatever its
// status: a model failure is a Result with StatusFailed and Error set, and
// nothing is stored, so the client may retry with the same RunID. Run
// returns an error instead when the run could not take place or its turn
// could not be stored: ErrUnknownAgent, ErrInvalidRequest, ErrSessionBusy,
// store errors (store.ErrLeaseLost when another writer took the session
// over), or the caller's context ending. Describe turns any of them into
// an ErrorInfo.
//
// events, if not nil, receives the run's events in order (see Event); it
// is called from the goroutine running Run or from the run's tool calls,
// never concurrently, and must not block for long. Run is safe for
// concurrent use; concurrent turns of one session are serialised.
func (e *Engine) Run(ctx context.Context, req RunRequest, events func(Event)) (*Result, error) {
	r := &run{e: e, events: events, start: e.now()}
	a, err := e.check(&req)
	if err != nil {
		r.emit(Event{Type: EventError, Data: Describe(err)})
		return nil, err
	}
	newSession := req.SessionID == ""
	if req.RunID == "" {
		req.RunID = "run_" + e.newID()
	}
	if newSession {
		req.SessionID = "sess_" + e.newID()
	}
	r.req, r.entry, r.agent = &req, a, a
	res, err := r.run(ctx, newSession)
	if err != nil {
		r.emit(Event{Type: EventError, Data: Describe(err)})
		return nil, err
	}
	r.emit(Event{Type: EventRunCompleted, Data: res})
	return res, nil
}

// check validates req and returns the agent it addresses.
func (e *Engine) check(req *RunRequest) (*agent, error) {
	a := e.agents[req.Agent]
	switch {
	case a == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownAgent, req.Agent)
	case req.Tenant == "":
		return nil, fmt.Errorf("%w: no tenant", ErrInvalidRequest)
	case req.Input == "":
		return nil, fmt.Errorf("%w: no input", ErrInvalidRequest)
	case len(req.Input) > e.maxInput:
		return nil, fmt.Errorf("%w: input longer than %d bytes", ErrInvalidRequest, e.maxInput)
	case len(req.Tenant) > store.MaxKeyLen || len(req.SessionID) > store.MaxKeyLen ||
		len(req.RunID) > store.MaxKeyLen || len(req.UserID) > store.MaxKeyLen || len(req.Tier) > store.MaxKeyLen:
		return nil, fmt.Errorf("%w: an id is longer than %d bytes", ErrInvalidRequest, store.MaxKeyLen)
	}
	// The load is the gateway's measure; an odd value must not make an
	// odd choice.
	switch {
	case !(req.Load >= 0): // NaN too
		req.Load = 0
	case req.Load > 1:
		req.Load = 1
	}
	return a, nil
}

// run is the state of one run. Only the goroutine running it touches it,
// except what mu guards, which tool-call goroutines also touch.
type run struct {
	e      *Engine
	req    *RunRequest
	events func(Event)
	start  time.Time

	// mu serialises events and the bookkeeping of concurrent tool calls.
	mu       sync.Mutex
	finished map[string]tool.CallFinished // the current Execute's outcomes, by call id
	escalate bool                         // escalate_to_human succeeded

	entry  *agent // the agent the run started with; its Limits hold throughout
	agent  *agent // the agent answering now
	runner *tool.Runner
	// noTools is set when a handoff left no tool budget, so that the
	// agent answering now has no Runner.
	noTools bool

	lease   store.Lease
	renewer *renewer
	leased  bool
	sess    *store.Session

	user        string
	userState   json.RawMessage
	userVersion int64  // of userState; 0 when the user has none
	sysBase     string // agent.system, the context blocks and the user state

	blocks  string           // the facts block and the summary, for the system prompt
	window  []llm.Message    // the last model call's messages; its array is reused
	win     ctxwindow.Window // the last model call's window
	marks   []handoffMark    // handoffs of this run, when a HandoffFilter is set
	turn    []llm.Message    // what this turn adds to the session
	tools   []llm.Tool       // reused per model call
	mreq    llm.Request      // reused per model call
	trace   router.Trace
	orders  []string // order numbers seen in tool-call arguments
	res     Result
	budget  bool // the tool budget cut the run short
	turnsUp bool // MaxTurns cut the run short
	tripped bool // a tool call met an open circuit breaker

	facts    *ctxwindow.Facts // the session's pinned facts, this turn's included
	ticketID string           // the handoff ticket the run filed or wrote to

	// The model choice of the agent answering now (see route), and how
	// the previous turn went, worked out once per run.
	model      string
	choice     ModelChoice
	prev       modelpolicy.Previous
	prevIntent string
	prevDone   bool
	lastModel  string // that answered the last model call

	modelTime, toolTime, waitTime time.Duration
	ctxTime                       time.Duration // spent on facts and windows
}

// handoffMark is a handoff of the run: the filter hides from agent to what
// came before turn[at].
type handoffMark struct {
	from, to string
	at       int
}

func (r *run) emit(ev Event) {
	if r.events == nil {
		return
	}
	r.mu.Lock()
	r.events(ev)
	r.mu.Unlock()
}

func (r *run) run(parent context.Context, newSession bool) (*Result, error) {
	e, q := r.e, r.req
	ctx, cancel := context.WithTimeoutCause(parent, r.entry.Limits.Deadline, errRunDeadline)
	defer cancel()
	ctx, lose := context.WithCancelCause(ctx)
	defer lose(nil)

	// Whatever happens from here on, a lease taken is given back.
	defer r.release(ctx)
	if err := r.open(ctx, newSession, lose); err != nil {
		return nil, r.ctxErr(parent, ctx, err)
	}
	r.res = Result{RunID: q.RunID, SessionID: q.SessionID, ToolCalls: []ToolCallRecord{}}

	for i := range r.sess.Turns {
		if t := &r.sess.Turns[i]; t.ID == q.RunID {
			return r.replay(t), nil
		}
	}
	r.user = q.UserID
	if r.user == "" {
		r.user = r.sess.UserID
	}
	// A conversation handed to an agent reachable from the one addressed
	// stays with it: the client keeps addressing its entry agent.
	if owner := e.agents[r.sess.Agent]; owner != nil && r.entry.reach[owner.Name] {
		r.agent = owner
	}
	if err := r.loadUser(ctx); err != nil {
		return nil, r.ctxErr(parent, ctx, err)
	}
	r.newRunner(ctx, r.entry.Limits.MaxToolCalls)
	r.prepareContext()
	r.emit(Event{Type: EventRunStarted, Data: &RunStarted{RunID: q.RunID, SessionID: q.SessionID, Agent: r.agent.Name}})
	if ack, ok := r.heldByPerson(ctx); ok {
		r.add(llm.Message{Role: llm.RoleAssistant, Content: llm.Text(ack)})
		r.res.Status, r.res.Reason, r.res.Ticket = StatusHandedOff, ReasonHeld, r.ticketID
		return r.finish(ctx, ack)
	}
	r.route(ctx)
	ctx = router.WithTrace(ctx, &r.trace)

	// The model loop stops a reserve before the deadline, so that the
	// ladder still answers in time when the model does not.
	deadline, _ := ctx.Deadline()
	loop, stop := context.WithDeadlineCause(ctx, deadline.Add(-degradeReserve(r.entry.Limits.Deadline)), errRunDeadline)
	output, err := r.loop(loop)
	switch {
	case err != nil || r.escalate:
	case (r.budget || r.turnsUp) && unsure(output):
		// Cut short, the model could only say it could not help.
		err = errNoAnswer
	default:
		err = r.check(output)
	}
	stop()
	if err != nil {
		if err := r.ctxErr(parent, ctx, nil); err != nil {
			return nil, err
		}
		trigger, ok := r.triggerOf(loop, err)
		if !ok {
			return r.failed(ctx, err), nil
		}
		return r.climb(ctx, trigger, err)
	}
	if r.escalate {
		return r.escalated(ctx)
	}
	r.add(llm.Message{Role: llm.RoleAssistant, Content: llm.Text(output)})
	return r.finish(ctx, output)
}

// ctxErr returns the error to give the caller when ctx ended: the caller's
// own context error, or the lease's loss; else err (nil when err is).
func (r *run) ctxErr(parent, ctx context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("run: %w", perr)
	}
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		return fmt.Errorf("run: %w", cause)
	}
	return err
}

// open takes the session's lease and loads its recent turns, creating the
// session if it does not exist.
func (r *run) open(ctx context.Context, newSession bool, lose context.CancelCauseFunc) error {
	e, q := r.e, r.req
	t0 := e.now()
	wctx, cancel := context.WithTimeout(ctx, e.leaseWait)
	lease, err := e.leases.Acquire(wctx, q.Tenant, q.SessionID, q.RunID, e.leaseTTL)
	if errors.Is(err, store.ErrNotFound) {
		// A backend that leases only existing sessions: create it first.
		if err = r.create(ctx); err == nil || errors.Is(err, store.ErrExists) {
			lease, err = e.leases.Acquire(wctx, q.Tenant, q.SessionID, q.RunID, e.leaseTTL)
		}
	}
	cancel()
	r.waitTime = e.now().Sub(t0)
	e.obs.LeaseWait(r.waitTime)
	if err != nil {
		if errors.Is(err, store.ErrLeaseTimeout) {
			return fmt.Errorf("%w: %w", ErrSessionBusy, err)
		}
		return fmt.Errorf("acquire session: %w", err)
	}
	r.lease, r.leased = lease, true
	r.renewer = startRenewer(e.leases, lease, e.leaseTTL, func(err error) { lose(err) })

	if !newSession {
		r.sess, err = r.load(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load session: %w", err)
		}
	}
	if err := r.create(ctx); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	if r.sess == nil {
		// Someone created it between our load and create.
		if r.sess, err = r.load(ctx); err != nil {
			return fmt.Errorf("load session: %w", err)
		}
	}
	return nil
}

// load reads the session with the turns its window may need: every turn
// after the summary (the newest MaxPendingTurns of them when summaries
// lag), or, from a store without summaries, the newest RecentTurns.
func (r *run) load(ctx context.Context) (*store.Session, error) {
	q, p := r.req, &r.entry.Context
	if s := r.e.summaries; s != nil {
		return s.LoadSince(ctx, q.Tenant, q.SessionID, -1, p.MaxPendingTurns)
	}
	return r.e.sessions.Load(ctx, q.Tenant, q.SessionID, p.RecentTurns)
}

// create creates the run's session, remembering it as loaded.
func (r *run) create(ctx context.Context) error {
	q := r.req
	s := &store.Session{Tenant: q.Tenant, ID: q.SessionID, UserID: q.UserID, Agent: q.Agent}
	if err := r.e.sessions.Create(ctx, s); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	r.sess = s
	return nil
}

// release stops renewing the lease and gives it back; it is idempotent.
// It runs even when the caller went away.
func (r *run) release(ctx context.Context) {
	if !r.leased {
		return
	}
	r.leased = false
	r.renewer.stop()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.e.persist)
	defer cancel()
	if err := r.e.leases.Release(rctx, r.lease); err != nil {
		r.e.log.Warn("release session lease", "tenant", r.req.Tenant, "session", r.req.SessionID, "err", err)
	}
}

// replay answers a RunID the session already has from its stored turn.
func (r *run) replay(t *store.Turn) *Result {
	res := &r.res
	res.Agent, res.Seq, res.Status, res.Replayed = t.Agent, t.Seq, StatusCompleted, true
	for i := len(t.Messages) - 1; i >= 0; i-- {
		if m := &t.Messages[i]; m.Role == llm.RoleAssistant && len(m.ToolCalls) == 0 {
			res.Output = m.Content.String()
			break
		}
	}
	res.Models = []string{}
	res.DurationMS = r.e.now().Sub(r.start).Milliseconds()
	return res
}

// newRunner gives the answering agent a Runner with a budget of max calls.
func (r *run) newRunner(ctx context.Context, max int) {
	if max <= 0 {
		r.runner, r.noTools = nil, true
		return
	}
	names := r.agent.registryTools
	if len(r.agent.mcpServers) > 0 {
		names = append([]string(nil), names...)
		for _, s := range r.agent.mcpServers {
			more, err := r.e.tools.ServerTools(ctx, s)
			if err != nil {
				// The server is down: the agent runs without its tools
				// rather than not at all.
				r.e.log.Warn("MCP server tools unavailable", "server", s, "agent", r.agent.Name, "err", err)
				continue
			}
			names = append(names, more...)
		}
	}
	var local []tool.Tool
	if r.agent.userState {
		local = append(local, &userStateTool{r: r})
	}
	r.runner = r.e.tools.NewRunner(names, tool.Limits{MaxCalls: max}, local...)
	r.noTools = false
}

// remaining is the tool budget left.
func (r *run) remaining() int {
	if r.noTools {
		return 0
	}
	if r.runner == nil {
		return r.entry.Limits.MaxToolCalls
	}
	return r.runner.Remaining()
}

// prepareContext starts the turn with the user's message and works out
// what the system prompt carries of the conversation: the session's
// pinned facts (those stored with the summary, those of the turns after
// it and those of the new message) and the summary.
func (r *run) prepareContext() {
	t0 := r.e.now()
	m := r.agent.ctx
	r.turn = make([]llm.Message, 0, 8)
	r.add(llm.Message{Role: llm.RoleUser, Content: llm.Text(r.req.Input)})
	f, err := m.Facts(r.sess.Facts, r.sess.Summary.UpToSeq, r.sess.Turns)
	if err != nil {
		r.e.log.Warn("session facts unreadable", "tenant", r.req.Tenant, "session", r.req.SessionID, "err", err)
	}
	m.Mention(f, r.turn, r.sess.TurnCount+1)
	m.BoundFacts(f)
	r.facts = f
	r.blocks = ctxwindow.Blocks(f, r.sess.Summary.Text)
	r.setSystem()
	r.ctxTime += r.e.now().Sub(t0)
}

// add appends m to the turn.
func (r *run) add(m ...llm.Message) {
	r.turn = append(r.turn, m...)
}

// setSystem recomputes the constant part of the system prompt after the
// agent or the user state changed.
func (r *run) setSystem() {
	r.sysBase = joinNonEmpty(r.agent.system, r.blocks)
	if len(r.userState) > 0 && string(r.userState) != "null" && string(r.userState) != "{}" {
		r.sysBase = joinNonEmpty(r.sysBase, "What we know about this user: "+string(r.userState))
	}
}

// loop calls the model until it answers, and returns the answer, which
// the caller adds to the turn once it passed the output checks. It
// returns "" and no error when the model escalated to a human (r.escalate),
// errNoAnswer when the last allowed call wrote nothing, and errBreakerOpen
// when a tool call met an open circuit breaker.
func (r *run) loop(ctx context.Context) (string, error) {
	maxTurns := r.entry.Limits.MaxTurns
	for {
		final := r.res.ModelCalls+1 >= maxTurns
		tools, notes := r.offer(final)
		switch {
		case final:
			r.turnsUp = true
			notes = append(notes, noteFinal)
		case tools == nil && r.remaining() == 0:
			// The budget is spent and only an answer can follow.
			final, r.budget = true, true
			notes = append(notes, noteBudget)
		}
		msg, err := r.call(ctx, tools, notes)
		if err != nil {
			return "", err
		}
		if len(msg.ToolCalls) == 0 || final {
			out := msg.Content.String()
			if strings.TrimSpace(out) == "" {
				// A model that still wanted tools, or one that answered
				// blank: the ladder answers.
				return "", errNoAnswer
			}
			return out, nil
		}
		r.add(llm.Message{Role: llm.RoleAssistant, Content: msg.Content, ToolCalls: msg.ToolCalls})
		r.toolCalls(ctx, msg.ToolCalls)
		switch {
		case r.escalate:
			return "", nil
		case r.tripped:
			return "", errBreakerOpen
		}
	}
}

// offer returns the tools to offer the next call and the notes for the
// model. It returns nil tools once the budget is spent or when final.
func (r *run) offer(final bool) ([]llm.Tool, []string) {
	if final {
		return nil, nil
	}
	var notes []string
	r.tools = r.tools[:0]
	if r.runner != nil {
		var offered []llm.Tool
		offered, notes = r.runner.Offer()
		if r.runner.Remaining() == 0 {
			return nil, nil
		}
		r.tools = append(r.tools, offered...)
	} else if r.noTools {
		return nil, nil
	}
	for _, d := range r.agent.handoffDecls {
		// A transfer made once in this turn is not offered again: two
		// agents must not pass a turn back and forth until max_turns.
		if to, _ := tool.HandoffTarget(d.Function.Name); !r.passed(r.agent.Name, to) {
			r.tools = append(r.tools, d)
		}
	}
	if len(r.tools) == 0 {
		return []llm.Tool{}, notes
	}
	return r.tools, notes
}

// call makes one model call and returns the answer's message.
func (r *run) call(ctx context.Context, tools []llm.Tool, notes []string) (*llm.Message, error) {
	e := r.e
	sys := r.sysBase
	if len(notes) > 0 {
		sys = joinNonEmpty(append([]string{sys}, notes...)...)
	}
	t0 := e.now()
	w, err := r.buildWindow(sys, tools)
	r.ctxTime += e.now().Sub(t0)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Status: 400, Code: "context_length_exceeded", Param: "messages",
			Message: "This turn does not fit the model's context window, even without the conversation's history."}
	}
	r.win, r.window = w, w.Messages
	r.mreq = llm.Request{Model: r.model, Messages: w.Messages}
	if len(tools) > 0 {
		r.mreq.Tools = tools
	}
	r.trace = router.Trace{Attempts: r.trace.Attempts[:0]}

	t0 = e.now()
	var resp *llm.Response
	if r.req.Stream {
		resp, err = r.stream(ctx, &r.mreq)
	} else {
		resp, err = e.model.Complete(ctx, &r.mreq)
	}
	d := e.now().Sub(t0)
	r.modelTime += d
	r.res.ModelCalls++
	model := r.trace.ModelOf(&r.mreq)
	r.lastModel = model
	e.obs.ModelCall(r.agent.Name, model, d, err)
	if err == nil && len(resp.Choices) == 0 {
		err = &llm.Error{Kind: llm.KindServer, Message: "the model returned no answer"}
	}
	var u *llm.Usage
	if err == nil {
		u = r.trace.UsageOf(resp)
	}
	r.recordCall(r.res.ModelCalls, t0, d, model, u, err)
	if err != nil {
		return nil, err
	}
	addUsage(&r.res.Usage, u)
	r.res.Cost += r.trace.Cost
	if !containsString(r.res.Models, model) {
		r.res.Models = append(r.res.Models, model)
	}
	return &resp.Choices[0].Message, nil
}

// stream makes a streamed model call, emitting the content as it comes.
func (r *run) stream(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	s, err := r.e.model.Stream(ctx, req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var acc llm.Accumulator
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return acc.Response(), nil
		}
		if err != nil {
			return nil, err
		}
		acc.Add(c)
		for i := range c.Choices {
			if cc := &c.Choices[i]; cc.Index == 0 && cc.Delta.Content != "" {
				r.emit(Event{Type: EventMessageDelta, Data: &MessageDelta{Agent: r.agent.Name, Content: cc.Delta.Content}})
			}
		}
	}
}

// toolCalls answers the calls of one model answer: handoffs by the engine,
// the rest (UserStateTool included, so that every call counts against the
// one budget) by the Runner. Every call gets exactly one tool message, in
// call order.
func (r *run) toolCalls(ctx context.Context, calls []llm.ToolCall) {
	results := make([]llm.Message, len(calls))
	var exec []llm.ToolCall
	var execAt []int
	handoffTo, handoffReason := "", ""
	for i := range calls {
		c := &calls[i]
		if target, ok := tool.HandoffTarget(c.Function.Name); ok && r.agent.canHandoff(target) && !r.passed(r.agent.Name, target) {
			msg := "Transferred to " + target + "."
			if handoffTo == "" {
				handoffTo, handoffReason = target, handoffReasonOf(c.Function.Arguments)
			} else if target != handoffTo {
				msg = "Not transferred: the conversation is being transferred to " + handoffTo + "."
			}
			results[i] = toolMessage(c.ID, c.Function.Name, textJSON(msg), false)
			r.record(c, "handoff", 0)
			continue
		}
		exec = append(exec, *c)
		execAt = append(execAt, i)
		r.orders = appendOrders(r.orders, c.Function.Arguments)
	}
	if len(exec) > 0 {
		r.execute(ctx, exec, execAt, results)
	}
	r.add(results...)
	if handoffTo != "" && !r.escalate {
		r.handoff(ctx, handoffTo, handoffReason)
	}
}

// execute runs calls through the Runner and puts their tool messages at
// the indexes at in results.
func (r *run) execute(ctx context.Context, calls []llm.ToolCall, at []int, results []llm.Message) {
	if r.runner == nil {
		// No budget is left after a handoff, or there is no registry:
		// answer as a Runner would.
		msg, outcome := "not executed: the tool-call budget of this request is spent; answer from what you have", tool.OutcomeBudget
		if !r.noTools {
			msg, outcome = "not executed: there is no such tool", tool.OutcomeUnknown
		}
		for j := range calls {
			c := &calls[j]
			results[at[j]] = toolMessage(c.ID, c.Function.Name, errorJSON(msg), true)
			r.record(c, string(outcome), 0)
		}
		return
	}
	r.mu.Lock()
	r.finished = make(map[string]tool.CallFinished, len(calls))
	r.mu.Unlock()
	t0 := r.e.now()
	out := r.runner.Execute(ctx, calls, r.onTool)
	r.toolTime += r.e.now().Sub(t0)
	r.mu.Lock()
	finished := r.finished
	r.finished = nil
	r.mu.Unlock()
	for j := range calls {
		c := &calls[j]
		results[at[j]] = out[j]
		if f := r.e.toolFilter; f != nil {
			results[at[j]].Content = llm.Text(f(ctx, r.req.Tenant, c.Function.Name, out[j].Content.String()))
		}
		f := finished[c.ID]
		r.record(c, string(f.Outcome), f.Duration)
		if f.Outcome == tool.OutcomeBreakerOpen || (f.Outcome == tool.OutcomeFailed || f.Outcome == tool.OutcomeTimeout) && r.breakerOpen(c.Function.Name) {
			r.tripped = true
		}
	}
}

// breakerOpen reports whether the named tool's circuit breaker is open,
// when the tool registry can tell.
func (r *run) breakerOpen(name string) bool {
	b, ok := r.e.tools.(interface{ BreakerState(string) string })
	return ok && b.BreakerState(name) == tool.StateOpen
}

// onTool receives the Runner's events, from its call goroutines.
func (r *run) onTool(ev tool.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case tool.CallStarted:
		if r.events != nil {
			r.events(Event{Type: EventToolCall, Data: &ToolCallEvent{ID: ev.ID, Name: ev.Name, Arguments: ev.Args}})
		}
	case tool.CallFinished:
		if r.finished != nil {
			r.finished[ev.ID] = ev
		}
		if ev.Name == tool.EscalateName && ev.Outcome == tool.OutcomeOK {
			r.escalate = true
		}
		if r.events != nil {
			r.events(Event{Type: EventToolResult, Data: &ToolResultEvent{ID: ev.ID, Name: ev.Name,
				Outcome: string(ev.Outcome), DurationMS: ms(ev.Duration), Result: ev.Result}})
		}
	}
}

// record adds one tool call to the result.
func (r *run) record(c *llm.ToolCall, outcome string, d time.Duration) {
	r.res.ToolCalls = append(r.res.ToolCalls, ToolCallRecord{
		ID: c.ID, Name: c.Function.Name, Arguments: rawArgs(c.Function.Arguments), Outcome: outcome, DurationMS: ms(d),
	})
}

// handoff gives the conversation to agent to: its instructions and tools
// from the next model call on, the history kept (filtered if configured)
// and the tool budget carried over.
func (r *run) handoff(ctx context.Context, to, reason string) {
	from := r.agent
	next := r.e.agents[to]
	h := Handoff{From: from.Name, To: to, Reason: reason}
	r.res.Handoffs = append(r.res.Handoffs, h)
	r.e.obs.Handoff(from.Name, to)
	r.emit(Event{Type: EventHandoff, Data: &h})

	used := r.entry.Limits.MaxToolCalls - r.remaining()
	left := min(r.remaining(), max(0, next.Limits.MaxToolCalls-used))
	r.agent = next
	r.newRunner(ctx, left)
	r.setSystem()
	r.route(ctx)
	if r.e.filter != nil {
		r.marks = append(r.marks, handoffMark{from: from.Name, to: to, at: len(r.turn)})
	}
}

// failed ends a run whose model call failed: nothing is stored.
func (r *run) failed(ctx context.Context, err error) *Result {
	res := &r.res
	res.Agent, res.Status, res.Reason = r.agent.Name, StatusFailed, ReasonModel
	res.Error = errorInfo(err)
	if errors.Is(context.Cause(ctx), errRunDeadline) {
		res.Reason = ReasonDeadline
		res.Error = &ErrorInfo{Message: "the run did not finish within its deadline", Type: llm.TypeTimeout, Status: 504}
	}
	if res.Models == nil {
		res.Models = []string{}
	}
	r.release(ctx)
	r.done()
	return res
}

// finish stores the turn, releases the session and completes the result.
func (r *run) finish(ctx context.Context, output string) (*Result, error) {
	e, q, res := r.e, r.req, &r.res
	res.Agent, res.Output = r.agent.Name, output
	if r.budget {
		e.obs.ToolBudgetExhausted(r.entry.Name)
	}
	if res.Status == "" { // not degraded nor handed off
		res.Status = StatusCompleted
		switch {
		case r.budget:
			res.Status, res.Reason = StatusPartial, ReasonToolBudget
		case r.turnsUp:
			res.Status, res.Reason = StatusPartial, ReasonMaxTurns
		}
	}
	if res.Models == nil {
		res.Models = []string{}
	}

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.persist)
	defer cancel()
	seq, _, err := e.sessions.AppendTurn(pctx, q.Tenant, q.SessionID, r.lease,
		store.Turn{ID: q.RunID, Agent: r.agent.Name, Messages: r.turn, At: e.now()})
	if err != nil {
		return nil, fmt.Errorf("store turn: %w", err)
	}
	res.Seq = seq
	if res.Status == StatusHandedOff && res.Reason != ReasonHeld {
		if _, err := e.sessions.SetState(pctx, q.Tenant, q.SessionID, r.lease, r.agent.Name, stateHandedOff); err != nil {
			return nil, fmt.Errorf("mark session handed off: %w", err)
		}
	}
	r.release(ctx)
	r.queueSummary(pctx, seq)
	r.touchUser(pctx)
	r.done()
	return res, nil
}

// done completes the result's figures, reports the run and publishes its
// usage record.
func (r *run) done() {
	e, res := r.e, &r.res
	total := e.now().Sub(r.start)
	res.DurationMS = total.Milliseconds()
	e.obs.RunFinished(r.entry.Name, res.Status, total)
	if n := res.ModelCalls; n > 0 {
		own := total - r.modelTime - r.toolTime - r.waitTime
		e.obs.Overhead(r.entry.Name, max(own, 0)/time.Duration(n))
		r.entry.ctx.Observer().Overhead(r.entry.Name, r.ctxTime)
	}
	r.recordRun(total)
}

// handoffReasonOf reads the optional reason argument of a handoff call.
func handoffReasonOf(args string) string {
	var a struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal([]byte(args), &a) != nil {
		return ""
	}
	return a.Reason
}

// toolMessage returns the tool message answering call id of tool name with
// data (a JSON value), in the Runner's envelope.
func toolMessage(id, name string, data json.RawMessage, isError bool) llm.Message {
	b := make([]byte, 0, 64+len(name)+len(data))
	b = append(b, `{"type":"tool_result","tool":`...)
	b = llm.AppendString(b, name)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	if isError {
		b = append(b, `,"is_error":true,"truncated":false}`...)
	} else {
		b = append(b, `,"is_error":false,"truncated":false}`...)
	}
	return llm.Message{Role: llm.RoleTool, ToolCallID: id, Content: llm.Text(string(b))}
}

// textJSON returns s as a JSON string.
func textJSON(s string) json.RawMessage { return llm.AppendString(nil, s) }

// errorJSON returns {"error": msg}.
func errorJSON(msg string) json.RawMessage {
	b := append([]byte(nil), `{"error":`...)
	b = llm.AppendString(b, msg)
	return append(b, '}')
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
