package sim

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// maxJSONDepth bounds the nesting of a request body. It is far above what
// any chat request needs (a tool's JSON Schema), and keeps recursion, which
// is stack, bounded.
const maxJSONDepth = 1000

// errCut ends a request whose connection must be dropped.
var errCut = errors.New("cut")

func (s *Sim) handleChat(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodPost {
		s.refuse(w, methodNotAllowed(r))
		return
	}
	select {
	case <-s.done:
		s.refuse(w, &llm.Error{Kind: llm.KindUnavailable, Message: "The simulated provider is shutting down."})
		return
	default:
	}
	bp := getBuf()
	defer putBuf(bp)
	body, err := readBody(r.Body, *bp, s.cfg.MaxBodyBytes)
	*bp = body[:0]
	if err != nil {
		if errors.Is(err, errTooLarge) {
			s.refuse(w, &llm.Error{Kind: llm.KindTooLarge, Message: "Request body too large; the limit is " +
				strconv.FormatInt(s.cfg.MaxBodyBytes, 10) + " bytes."})
			return
		}
		s.refuse(w, invalidBody("Could not read the request body: "+err.Error()))
		return
	}
	h := s.memo.hash(body)
	p := s.memo.get(h, body)
	if p == nil {
		// A miss decodes the whole request: a reply is memoised, so the
		// decode's cost is paid once per distinct body. A repeated key's
		// last value wins, as with OpenAI's parser.
		req, err := llm.DecodeRequest(body, llm.DecodeOptions{MaxDepth: maxJSONDepth, AllowDuplicateKeys: true})
		if err != nil {
			// Only the message: the sim has always answered a body it
			// cannot decode with no code and no param.
			s.refuse(w, invalidBody(llm.AsError(err).Message))
			return
		}
		if e := validate(req); e != nil {
			s.refuse(w, e)
			return
		}
		m := s.byName[req.Model]
		if m == nil {
			s.refuse(w, modelNotFound(req.Model))
			return
		}
		p = s.prepare(m, req)
		if !s.noMemo {
			s.memo.put(h, string(body), p)
		}
	}
	m := p.model
	m.stats.requests.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	out := s.serveChat(r.Context(), w, p)
	m.stats.outcomes[out].Add(1)
	if out == outReset || out == outCut {
		// net/http drops the connection without finishing the response.
		panic(http.ErrAbortHandler)
	}
}

// refuse answers a request that never reached a model.
func (s *Sim) refuse(w http.ResponseWriter, e *llm.Error) {
	s.unattributed.requests.Add(1)
	s.unattributed.outcomes[statusOutcome(e.HTTPStatus())].Add(1)
	s.writeError(w, e)
}

var errTooLarge = errors.New("body too large")

// readBody reads r into buf (grown as needed) up to limit bytes.
func readBody(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var validRoles = map[string]bool{
	llm.RoleSystem: true, llm.RoleDeveloper: true, llm.RoleUser: true, llm.RoleAssistant: true,
	llm.RoleTool: true, "function": true,
}

// validate checks what OpenAI would refuse before looking at the model.
func validate(req *llm.Request) *llm.Error {
	if req.Model == "" {
		return &llm.Error{Kind: llm.KindInvalidRequest, Param: "model", Code: "missing_required_parameter",
			Message: "you must provide a model parameter"}
	}
	if len(req.Messages) == 0 {
		return &llm.Error{Kind: llm.KindInvalidRequest, Param: "messages", Code: "empty_array",
			Message: "[] is too short - 'messages'"}
	}
	for i := range req.Messages {
		if !validRoles[req.Messages[i].Role] {
			return llm.InvalidParam("messages["+strconv.Itoa(i)+"].role",
				"Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
				req.Messages[i].Role)
		}
	}
	for i := range req.Tools {
		if req.Tools[i].Function.Name == "" {
			return &llm.Error{Kind: llm.KindInvalidRequest, Param: "tools[" + strconv.Itoa(i) + "].function.name",
				Code: "missing_required_parameter", Message: "Missing required parameter: 'tools[" + strconv.Itoa(i) + "].function.name'."}
		}
	}
	if n := req.MaxOutputTokens(); n < 0 || (req.MaxTokens != nil && *req.MaxTokens < 0) {
		return llm.InvalidParam("max_tokens", "Invalid 'max_tokens': integer below minimum value.")
	}
	return nil
}

// prepared is everything about a request's answer that follows from its
// body alone: the model's reply, its pieces and token counts. It is
// memoized by body and shared by concurrent requests, so it is never
// modified after prepare returns.
type prepared struct {
	model      *model
	modelName  string // as the client named it
	stream     bool
	usageChunk bool
	maxOut     int
	prompt     int
	cached     int
	completion int
	rep        reply
	pieces     []string
}

// prepare decides the reply to req and counts its tokens.
func (s *Sim) prepare(m *model, req *llm.Request) *prepared {
	p := &prepared{
		model:      m,
		modelName:  req.Model,
		stream:     req.Stream,
		usageChunk: req.WantsUsageChunk(),
		maxOut:     req.MaxOutputTokens(),
	}
	p.prompt, p.cached = promptTokens(m, req)
	if m.ContextWindow > 0 && p.prompt+p.maxOut > m.ContextWindow {
		return p // refused in serveChat; no reply needed
	}
	p.rep = s.generate(m, req)
	p.pieces = splitPieces(make([]string, 0, 32), p.rep.content)
	p.completion = finishContent(m, req, p)
	return p
}

// serveChat answers a prepared request and reports how it ended.
func (s *Sim) serveChat(ctx context.Context, w http.ResponseWriter, p *prepared) outcome {
	m := p.model
	now := s.clock.Now()
	cut := m.cutChan()
	fd := s.decideFaults(m, now)
	if fd.reset {
		return outReset
	}
	if fd.outage {
		return s.fail(w, &llm.Error{Kind: llm.KindUnavailable, Status: http.StatusServiceUnavailable, Type: llm.TypeServer,
			Message: "The server is temporarily unavailable (simulated outage). Please retry after a brief wait."})
	}
	if m.ContextWindow > 0 && p.prompt+p.maxOut > m.ContextWindow {
		return s.fail(w, &llm.Error{Kind: llm.KindInvalidRequest, Param: "messages", Code: "context_length_exceeded",
			Message: "This model's maximum context length is " + strconv.Itoa(m.ContextWindow) +
				" tokens. However, your messages resulted in " + strconv.Itoa(p.prompt+p.maxOut) +
				" tokens. Please reduce the length of the messages."})
	}

	c := completion{
		created:     now.Unix(),
		model:       p.modelName,
		fingerprint: m.fingerprint,
		rep:         &p.rep,
		pieces:      p.pieces,
		usage:       llm.Usage{PromptTokens: p.prompt, CompletionTokens: p.completion, TotalTokens: p.prompt + p.completion},
	}
	if p.cached > 0 {
		c.usage.PromptTokensDetails = &llm.PromptTokensDetails{CachedTokens: p.cached}
	}

	if m.rpm.limit > 0 || m.tpm.limit > 0 {
		if e := s.admit(w, m, now, int64(c.usage.TotalTokens)); e != nil {
			return s.fail(w, e)
		}
	}

	if fd.hang {
		select {
		case <-ctx.Done():
		case <-cut:
		case <-s.done:
		}
		return outHang
	}
	scale := s.cfg.TimeScale
	delay := scaled(fd.delay, scale)
	if fd.status != 0 {
		if err := s.sleep(ctx, delay, cut); err != nil {
			return sleepOutcome(err)
		}
		return s.fail(w, &llm.Error{Kind: llm.KindServer, Status: fd.status, Type: llm.TypeServer,
			Message: "The server had an error while processing your request. Sorry about that! (simulated fault)"})
	}

	m.stats.toolCalls.Add(int64(len(p.rep.calls)))
	m.stats.wanders.Add(int64(p.rep.wanders))
	m.stats.promptTokens.Add(int64(p.prompt))
	m.stats.completionTokens.Add(int64(p.completion))

	c.id = s.newID()
	ttft := delay + scaled(m.TTFT, scale)
	gen := time.Duration(0)
	if m.TokensPerSecond > 0 && scale > 0 {
		gen = scaled(time.Duration(float64(p.completion)/m.TokensPerSecond*float64(time.Second)), scale)
	}
	if p.stream {
		return s.stream(ctx, w, p, &c, ttft, gen, fd, cut)
	}
	if err := s.sleep(ctx, ttft+gen, cut); err != nil {
		return sleepOutcome(err)
	}
	if fd.cut {
		return outReset
	}
	bp := getBuf()
	defer putBuf(bp)
	*bp = appendResponse(*bp, &c)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Request-Id"] = []string{"req_" + c.id[len("chatcmpl-"):]}
	_, _ = w.Write(*bp)
	return outOK
}

var (
	jsonContentType = []string{"application/json"}
	sseContentType  = []string{"text/event-stream; charset=utf-8"}
	noCache         = []string{"no-cache"}
)

// fail writes e and returns its outcome.
func (s *Sim) fail(w http.ResponseWriter, e *llm.Error) outcome {
	s.writeError(w, e)
	return statusOutcome(e.HTTPStatus())
}

func sleepOutcome(err error) outcome {
	if errors.Is(err, errCut) {
		return outReset
	}
	return outCanceled
}

// promptTokens counts the request's prompt and the part a provider would
// have in its prompt cache: as if the conversation up to the last user
// message had been sent before, counted when it is at least 1,024 tokens,
// in steps of 128 (OpenAI's caching rule).
func promptTokens(m *model, req *llm.Request) (total, cached int) {
	tools := m.counter.CountTools(req.Tools)
	prefix := tools
	n := tools + 3 // reply priming
	lastUser := -1
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			lastUser = i
			break
		}
	}
	for i := range req.Messages {
		c := m.counter.CountMessage(&req.Messages[i])
		n += c
		if i < lastUser {
			prefix += c
		}
	}
	if prefix >= 1024 {
		cached = prefix / 128 * 128
	}
	return n, cached
}

// finishContent applies stop sequences and the output cap to the reply's
// content and returns the completion tokens: the content's, or the tool
// calls' names and arguments.
func finishContent(m *model, req *llm.Request, c *prepared) int {
	rep := &c.rep
	if len(rep.calls) > 0 {
		n := 0
		for i := range rep.calls {
			n += m.counter.Count(rep.calls[i].Function.Name) + m.counter.Count(rep.calls[i].Function.Arguments)
		}
		return n
	}
	for _, stop := range req.Stop.Seqs {
		if stop == "" {
			continue
		}
		if i := strings.Index(rep.content, stop); i >= 0 {
			rep.content = rep.content[:i]
			c.pieces = splitPieces(c.pieces[:0], rep.content)
		}
	}
	limit := req.MaxOutputTokens()
	n := 0
	// Counting piece by piece hits the tokenizer's cache for the words the
	// sim says over and over, and pieces split where the tokenizer's own
	// pre-tokenizer does.
	for i, p := range c.pieces {
		k := m.counter.Count(p)
		if limit > 0 && n+k > limit {
			c.pieces = c.pieces[:i]
			rep.content = strings.Join(c.pieces, "")
			rep.finish = llm.FinishLength
			return n
		}
		n += k
	}
	return n
}

// admit takes the request from the model's RPM and TPM windows, or returns
// the 429 to answer. It sets OpenAI's x-ratelimit-* headers either way.
func (s *Sim) admit(w http.ResponseWriter, m *model, now time.Time, tokens int64) *llm.Error {
	h := w.Header()
	var e *llm.Error
	if !m.rpm.take(now, 1) {
		wait := m.rpm.wait(now, 1)
		e = &llm.Error{Kind: llm.KindRateLimited, Type: "requests", Code: "rate_limit_exceeded", RetryAfter: wait,
			Message: "Rate limit reached for requests per min (RPM) on " + m.Name + ": Limit " + strconv.Itoa(m.RPM) +
				", Used " + strconv.FormatInt(m.rpm.used(now.Unix()), 10) + ", Requested 1. Please try again in " +
				roundDur(wait) + "."}
	} else if !m.tpm.take(now, tokens) {
		m.rpm.add(now.Unix(), -1)
		wait := m.tpm.wait(now, tokens)
		e = &llm.Error{Kind: llm.KindRateLimited, Type: "tokens", Code: "rate_limit_exceeded", RetryAfter: wait,
			Message: "Rate limit reached for tokens per min (TPM) on " + m.Name + ": Limit " + strconv.Itoa(m.TPM) +
				", Used " + strconv.FormatInt(m.tpm.used(now.Unix()), 10) + ", Requested " + strconv.FormatInt(tokens, 10) +
				". Please try again in " + roundDur(wait) + "."}
	}
	if m.rpm.limit > 0 {
		h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(m.RPM))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(m.rpm.remaining(now), 10))
		h.Set("X-Ratelimit-Reset-Requests", roundDur(m.rpm.reset(now)))
	}
	if m.tpm.limit > 0 {
		h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(m.TPM))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(m.tpm.remaining(now), 10))
		h.Set("X-Ratelimit-Reset-Tokens", roundDur(m.tpm.reset(now)))
	}
	if e != nil {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.RetryAfter.Seconds())), 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(e.RetryAfter.Milliseconds(), 10))
	}
	return e
}

// roundDur formats d as OpenAI's reset headers do: "1s", "6m0s", "120ms".
func roundDur(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}

func scaled(d time.Duration, scale float64) time.Duration {
	if scale == 0 || d <= 0 {
		return 0
	}
	if scale == 1 {
		return d
	}
	return time.Duration(float64(d) * scale)
}

// sleep waits d on the sim's clock unless the client goes away (ctx), the
// model's requests are cut, or the sim is closed. With d <= 0 it returns at
// once and starts no timer.
func (s *Sim) sleep(ctx context.Context, d time.Duration, cut <-chan struct{}) error {
	if d <= 0 {
		select {
		case <-cut:
			return errCut
		default:
			return nil
		}
	}
	select {
	case <-s.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-cut:
		return errCut
	case <-s.done:
		return errCut
	}
}

// newID returns a unique completion id. Ids are not behaviour: two equal
// requests get different ids, as from a real provider.
func (s *Sim) newID() string {
	x := mix(s.idSalt + s.idSeq.Add(1))
	y := mix(x)
	var b [9 + 24]byte
	copy(b[:], "chatcmpl-")
	for i := 9; i < len(b); i++ {
		v := x
		if i >= 9+12 {
			v = y
		}
		b[i] = idAlphabet[(v>>(uint(i%12)*5))%uint64(len(idAlphabet))]
	}
	return string(b[:])
}
