package sim

import (
	"slices"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// maxNeedless caps a wandering conversation's needless calls after one user
// turn, so that a client without a tool budget still ends.
const maxNeedless = 32

// maxParallelOrders caps the calls made for several order numbers at once.
const maxParallelOrders = 3

// reply is what the simulated model produces for one request.
type reply struct {
	content    string
	calls      []llm.ToolCall
	finish     string
	wanders    int // needless calls in calls
	intent     intent
	complexity Complexity
}

// turn is one request as the behaviour sees it.
type turn struct {
	req      *llm.Request
	model    *model
	lastUser int // index of the last user message, or -1
	text     string
	cls      classification
	ents     []entity
	tools    []*toolInfo
	hashes   convHashes
	toolsOK  bool // tools offered and tool_choice is not "none"
	parallel bool
}

// generate decides the reply to req. It is a pure function of the sim's
// seed and configuration, the model and the request's messages and tools.
func (s *Sim) generate(m *model, req *llm.Request) reply {
	t := turn{req: req, model: m, lastUser: -1}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			t.lastUser = i
			break
		}
	}
	t.hashes = hashConversation(s.cfg.Seed, m.Name, req.Messages, t.lastUser)
	if t.lastUser >= 0 {
		t.text = req.Messages[t.lastUser].Content.String()
	}
	if s.summaryRequested(&t) {
		return s.summary(&t)
	}
	t.ents = extractEntities(t.text)
	t.cls = classify(t.text, t.ents)
	s.inheritContext(&t)

	t.toolsOK = len(req.Tools) > 0 && req.ToolChoice.Mode != llm.ToolChoiceNone
	t.parallel = req.ParallelToolCalls == nil || *req.ParallelToolCalls
	if t.toolsOK {
		t.tools = make([]*toolInfo, len(req.Tools))
		for i := range req.Tools {
			t.tools[i] = s.tools.get(&req.Tools[i])
		}
	}

	rep := reply{intent: t.cls.primary, complexity: t.cls.complexity, finish: llm.FinishStop}
	made, results := t.afterTurn()
	if len(made) > 0 && len(results) > 0 {
		return s.continueTools(&t, rep, made, results)
	}
	switch t.cls.primary {
	case intentRecall:
		rep.content = recallAnswer(&t, s.phraseRNG(&t))
		return rep
	case intentSmallTalk, intentUnknown:
		if t.toolsOK && t.forced() {
			break
		}
		r := s.phraseRNG(&t)
		if t.cls.primary == intentSmallTalk {
			rep.content = smallTalkReply(t.text, r)
		} else {
			rep.content = r.pick(unknownReplies)
		}
		return rep
	}
	if !t.toolsOK {
		rep.content = noToolAnswer(&t, s.phraseRNG(&t))
		return rep
	}
	p := s.plan(&t)
	switch {
	case p.clarify != "":
		rep.content = p.clarify
	case len(p.calls) == 0:
		rep.content = noToolAnswer(&t, s.phraseRNG(&t))
	default:
		calls := p.calls
		if !t.parallel {
			calls = calls[:1]
		}
		rep.calls = s.withIDs(&t, calls)
		rep.finish = llm.FinishToolCalls
	}
	return rep
}

// inheritContext lets a follow-up turn lean on earlier ones: "it's 100123"
// after a clarifying question takes the previous turn's intent, and a turn
// that needs an order number nobody repeated takes the most recent one.
func (s *Sim) inheritContext(t *turn) {
	msgs := t.req.Messages
	if t.cls.weak() && t.cls.primary != intentSmallTalk || (t.cls.primary == intentSmallTalk && len(t.ents) > 0) {
		for i := t.lastUser - 1; i >= 0; i-- {
			if msgs[i].Role != llm.RoleUser {
				continue
			}
			prev := msgs[i].Content.String()
			pents := extractEntities(prev)
			pcls := classify(prev, pents)
			if !pcls.weak() && pcls.primary != intentRecall && pcls.primary != intentSummarize {
				t.cls = pcls
				t.ents = append(t.ents, pents...)
			}
			break
		}
	}
	if firstOf(t.ents, entOrder) != "" || t.cls.primary == intentProduct || t.cls.weak() {
		return
	}
	for i := t.lastUser - 1; i >= 0; i-- {
		if msgs[i].Role != llm.RoleUser {
			continue
		}
		if o := allOf(extractEntities(msgs[i].Content.String()), entOrder); len(o) > 0 {
			t.ents = append(t.ents, entity{kind: entOrder, value: o[len(o)-1], pos: -1})
			return
		}
	}
}

// forced reports whether tool_choice makes a call mandatory.
func (t *turn) forced() bool {
	return t.req.ToolChoice.Function != "" || t.req.ToolChoice.Mode == llm.ToolChoiceRequired
}

// afterTurn returns the tool calls the assistant made after the last user
// message and the tool results given for them. Handoff calls and their
// results are left out: after a handoff the receiving agent takes the turn
// up afresh with its own tools.
func (t *turn) afterTurn() (made []llm.ToolCall, results []llm.Message) {
	var handoffs []string
	for i := t.lastUser + 1; i < len(t.req.Messages); i++ {
		m := &t.req.Messages[i]
		switch m.Role {
		case llm.RoleAssistant:
			for _, c := range m.ToolCalls {
				if strings.HasPrefix(strings.ToLower(c.Function.Name), handoffPrefix) {
					handoffs = append(handoffs, c.ID)
					continue
				}
				made = append(made, c)
			}
		case llm.RoleTool:
			if !slices.Contains(handoffs, m.ToolCallID) {
				results = append(results, *m)
			}
		}
	}
	return made, results
}

func (s *Sim) phraseRNG(t *turn) *rng {
	r := newRNG(t.hashes.full, saltPhrase)
	return &r
}

// plannedCall is a call the model means to make for the turn.
type plannedCall struct {
	name, args string
}

type plan struct {
	calls   []plannedCall
	clarify string
	erred   bool
}

// plan decides the calls that answer the turn's request. It draws from the
// turn seed only, so every step of a tool loop recomputes the same plan.
func (s *Sim) plan(t *turn) plan {
	r := newRNG(t.hashes.turn, saltPlan)
	f := argFiller{ents: t.ents, query: queryOf(t.text, t.ents, true), text: t.text, r: &r}
	var p plan
	if name := t.req.ToolChoice.Function; name != "" {
		if ti := t.tool(name); ti != nil {
			p.calls = append(p.calls, plannedCall{ti.name, f.fill(ti, "")})
			return p
		}
	}
	intents := []intent{t.cls.primary}
	if t.cls.secondary != intentUnknown {
		intents = append(intents, t.cls.secondary)
	}
	var used []*toolInfo
	for n, in := range intents {
		ti := t.toolFor(in, t.ents, f.query)
		if ti == nil {
			continue
		}
		if miss := ti.missing(t.ents, f.query); miss != nil && !t.forced() {
			if n == 0 {
				p.clarify = clarifyQuestion(miss, &r)
				return p
			}
			continue
		}
		used = append(used, ti)
		orders := allOf(t.ents, entOrder)
		if in != intentProduct && len(orders) > 1 && ti.takes(fillOrder) && !ti.takesArray(fillOrder) {
			for _, o := range orders[:min(len(orders), maxParallelOrders)] {
				p.calls = append(p.calls, plannedCall{ti.name, f.fill(ti, o)})
			}
			continue
		}
		p.calls = append(p.calls, plannedCall{ti.name, f.fill(ti, "")})
	}
	if len(p.calls) == 0 {
		if t.forced() && len(t.tools) > 0 {
			ti := t.tools[0]
			for _, c := range t.tools {
				if c.requiredFillable(t.ents, f.query) {
					ti = c
					break
				}
			}
			p.calls = append(p.calls, plannedCall{ti.name, f.fill(ti, "")})
		}
		return p
	}
	if r.chance(1 - t.model.Accuracy.For(t.cls.complexity)) {
		p.erred = true
		s.err(t, &p, used[0], &f, &r)
	}
	return p
}

// err makes the plan's first call wrong in a plausible way: a sibling tool
// (order status instead of tracking, …) or a typo in the order number or
// SKU.
func (s *Sim) err(t *turn, p *plan, ti *toolInfo, f *argFiller, r *rng) {
	var wrong *toolInfo
	for _, c := range t.tools {
		if c != ti && c.intent != intentUnknown && c.intent != ti.intent && c.requiredFillable(t.ents, f.query) {
			if wrong == nil || sibling(c.intent, ti.intent) {
				wrong = c
			}
		}
	}
	orders := allOf(t.ents, entOrder)
	skus := allOf(t.ents, entSKU)
	canTypo := (len(orders) > 0 && ti.takes(fillOrder)) || (len(skus) > 0 && ti.takes(fillSKU))
	if wrong != nil && (!canTypo || r.chance(0.5)) {
		p.calls[0] = plannedCall{wrong.name, f.fill(wrong, "")}
		return
	}
	if !canTypo {
		p.erred = false
		return
	}
	old := p.calls[0].args
	for _, v := range append(orders, skus...) {
		if strings.Contains(old, v) {
			p.calls[0].args = strings.Replace(old, v, transposeDigits(v, r), 1)
			return
		}
	}
	p.erred = false
}

func sibling(a, b intent) bool {
	fam := func(i intent) bool { return i == intentOrderStatus || i == intentShipment }
	return fam(a) && fam(b) || (a == intentOrderStatus && b == intentReturn) || (a == intentReturn && b == intentOrderStatus)
}

func (t *turn) tool(name string) *toolInfo {
	for _, ti := range t.tools {
		if ti.name == name {
			return ti
		}
	}
	return nil
}

// toolFor picks the offered tool serving intent in: the first whose required
// parameters can be filled, else the first serving it at all. Without one,
// a model makes do with a sibling (order status for tracking and back),
// and failing that hands off to the agent whose transfer tool serves the
// intent.
func (t *turn) toolFor(in intent, ents []entity, query string) *toolInfo {
	pick := func(in intent, handoff bool) *toolInfo {
		var first *toolInfo
		for _, ti := range t.tools {
			if ti.intent != in || ti.handoff != handoff {
				continue
			}
			if ti.requiredFillable(ents, query) {
				return ti
			}
			if first == nil {
				first = ti
			}
		}
		return first
	}
	if ti := pick(in, false); ti != nil {
		return ti
	}
	switch in {
	case intentShipment:
		if ti := pick(intentOrderStatus, false); ti != nil {
			return ti
		}
	case intentOrderStatus:
		if ti := pick(intentShipment, false); ti != nil {
			return ti
		}
	}
	return pick(in, true)
}

func (t *toolInfo) takes(k fillKind) bool {
	for i := range t.params {
		if t.params[i].fill == k {
			return true
		}
	}
	return false
}

func (t *toolInfo) takesArray(k fillKind) bool {
	for i := range t.params {
		if t.params[i].fill == k && t.params[i].typ == "array" {
			return true
		}
	}
	return false
}

// withIDs turns planned calls into tool calls with ids drawn from the full
// conversation seed, so each step's ids differ.
func (s *Sim) withIDs(t *turn, calls []plannedCall) []llm.ToolCall {
	r := newRNG(t.hashes.full, saltIDs)
	out := make([]llm.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = llm.ToolCall{ID: callID(&r), Type: "function", Function: llm.FunctionCall{Name: c.name, Arguments: c.args}}
	}
	return out
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func callID(r *rng) string {
	var b [29]byte
	copy(b[:], "call_")
	for i := 5; i < len(b); i++ {
		b[i] = idAlphabet[r.intn(len(idAlphabet))]
	}
	return string(b[:])
}

// continueTools decides what follows tool results: the rest of the plan,
// a needless call (wandering), or the answer.
func (s *Sim) continueTools(t *turn, rep reply, made []llm.ToolCall, results []llm.Message) reply {
	p := s.plan(t)
	pending, needless := matchPlan(p.calls, made)
	if t.toolsOK && len(pending) > 0 {
		if !t.parallel {
			pending = pending[:1]
		}
		rep.calls = s.withIDs(t, pending)
		rep.finish = llm.FinishToolCalls
		return rep
	}
	if t.toolsOK && t.hasWanderable() {
		prob := s.cfg.WanderRate
		if needless > 0 {
			prob = s.cfg.WanderContinue
		}
		if needless >= maxNeedless {
			prob = 0
		}
		r := newRNG(t.hashes.full, saltWander)
		forced := t.forced()
		if forced || r.chance(prob) {
			c := wanderCall(t, made, &r)
			rep.calls = s.withIDs(t, []plannedCall{c})
			rep.finish = llm.FinishToolCalls
			if !forced {
				rep.wanders = 1
			}
			return rep
		}
	}
	r := newRNG(t.hashes.full, saltAnswer)
	wrong := r.chance(1 - t.model.Accuracy.For(t.cls.complexity))
	rep.content = composeAnswer(t, made, results, wrong, &r)
	return rep
}

// matchPlan matches calls already made against the plan by function name:
// plan entries not yet made are pending; made calls that match no entry
// are needless.
func matchPlan(planned []plannedCall, made []llm.ToolCall) (pending []plannedCall, needless int) {
	used := make([]bool, len(planned))
	for _, c := range made {
		found := false
		for i, p := range planned {
			if !used[i] && p.name == c.Function.Name {
				used[i], found = true, true
				break
			}
		}
		if !found {
			needless++
		}
	}
	for i, p := range planned {
		if !used[i] {
			pending = append(pending, p)
		}
	}
	return pending, needless
}

// hasWanderable reports whether a tool a model might call needlessly is
// offered (handoffs and escalations are not).
func (t *turn) hasWanderable() bool {
	return slices.ContainsFunc(t.tools, func(ti *toolInfo) bool { return !ti.sideEffect })
}

// wanderCall picks a needless call: any offered tool but a handoff or an
// escalation; one already called is called again with the same arguments.
func wanderCall(t *turn, made []llm.ToolCall, r *rng) plannedCall {
	if name := t.req.ToolChoice.Function; name != "" {
		if ti := t.tool(name); ti != nil {
			f := argFiller{ents: t.ents, query: queryOf(t.text, t.ents, true), text: t.text, r: r}
			return plannedCall{ti.name, f.fill(ti, "")}
		}
	}
	var candidates []*toolInfo
	for _, ti := range t.tools {
		if !ti.sideEffect {
			candidates = append(candidates, ti)
		}
	}
	ti := candidates[r.intn(len(candidates))]
	for i := len(made) - 1; i >= 0; i-- {
		if made[i].Function.Name == ti.name {
			return plannedCall{ti.name, made[i].Function.Arguments}
		}
	}
	f := argFiller{ents: t.ents, query: queryOf(t.text, t.ents, true), text: t.text, r: r}
	return plannedCall{ti.name, f.fill(ti, "")}
}
