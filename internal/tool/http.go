package tool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// HTTP tool defaults.
const (
	DefaultHTTPTimeout      = 10 * time.Second
	DefaultHTTPRetries      = 2
	DefaultRetryBackoff     = 100 * time.Millisecond
	DefaultMaxResponseBytes = 64 << 10
)

// HTTPConfig configures an HTTP tool. The zero values of the optional
// fields take the defaults named on them.
type HTTPConfig struct {
	// Name is the tool's name as the model sees it: 1 to 64 of
	// [A-Za-z0-9_-]. Required.
	Name string
	// Description tells the model what the tool does and when to use it.
	Description string
	// Method is the HTTP method; "" means GET.
	Method string
	// URL is an http or https URL template: each {param} is replaced by
	// the argument of that name, path-escaped in the path (a value of "."
	// or ".." included, so no argument can climb out of its segment) and
	// query-escaped in the query. Placeholders may not appear in the
	// scheme or host. Required.
	URL string
	// Headers are sent with every request; values are already expanded
	// from secrets by the configuration.
	Headers map[string]string
	// Parameters is the JSON Schema of the arguments, an object schema.
	// Arguments are validated against it before any request is made.
	// Required.
	Parameters json.RawMessage
	// Timeout bounds a whole call, retries and back-off included; 0 means
	// DefaultHTTPTimeout.
	Timeout time.Duration
	// Retries is how many times a failed call is retried: only for the
	// idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS), and only after
	// a transport error, a 5xx, 408 or 429. 0 means DefaultHTTPRetries; a
	// negative value means none.
	Retries int
	// RetryBackoff is the ceiling of the first back-off, doubled for each
	// further retry; 0 means DefaultRetryBackoff. A Retry-After the server
	// sends is honoured when it fits in the remaining time.
	RetryBackoff time.Duration
	// MaxResponseBytes caps the response body read. A longer body is cut
	// there (at a UTF-8 boundary) and returned with Result.Truncated set:
	// a partial answer is more use to the model than none. 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Client sends the requests; nil means a client shared by all HTTP
	// tools, with pooled keep-alive connections and no proxy.
	Client *http.Client
	// Jitter returns the wait before a retry given its ceiling; nil means
	// a uniformly random wait in [d/2, d].
	Jitter func(d time.Duration) time.Duration
}

// sharedClient serves every HTTP tool without a Client of its own. It reads
// no proxy from the environment (only internal/config reads it) and keeps
// enough idle connections per host for a busy demo shop.
var sharedClient = &http.Client{
	Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	},
	CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("stopped after 3 redirects")
		}
		return nil
	},
}

// urlPart is a piece of a parsed URL template: a literal, or the argument
// to put there.
type urlPart struct {
	lit   string
	param string
	query bool // the placeholder is in the query: query-escape it
}

type httpTool struct {
	decl       llm.Tool
	name       string
	method     string
	idempotent bool
	bodyless   bool // arguments left over go in the query string
	parts      []urlPart
	hasQuery   bool // the template has a '?'
	headers    [][2]string
	schema     *schema
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	maxBytes   int
	client     *http.Client
	jitter     func(time.Duration) time.Duration
}

// NewHTTP returns the HTTP tool cfg describes, with its URL template parsed
// and its schema compiled once. The tool is safe for concurrent use.
func NewHTTP(cfg HTTPConfig) (Tool, error) {
	if !llm.ValidFunctionName(cfg.Name) {
		return nil, fmt.Errorf("tool %q: the name must be 1 to 64 of [A-Za-z0-9_-]", cfg.Name)
	}
	t := &httpTool{name: cfg.Name, method: strings.ToUpper(cfg.Method)}
	fail := func(format string, args ...any) (Tool, error) {
		return nil, fmt.Errorf("tool %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	if t.method == "" {
		t.method = http.MethodGet
	}
	switch t.method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		t.bodyless = true
		t.idempotent = true
	case http.MethodPut:
		t.idempotent = true
	case http.MethodPost, http.MethodPatch:
	default:
		return fail("unsupported method %q", cfg.Method)
	}
	var err error
	if t.parts, t.hasQuery, err = parseTemplate(cfg.URL); err != nil {
		return fail("url: %v", err)
	}
	if t.schema, err = compileSchema(cfg.Name, cfg.Parameters); err != nil {
		return fail("parameters: %v", err)
	}
	for k, v := range cfg.Headers {
		t.headers = append(t.headers, [2]string{http.CanonicalHeaderKey(k), v})
	}
	t.timeout = cmp(cfg.Timeout, DefaultHTTPTimeout)
	t.backoff = cmp(cfg.RetryBackoff, DefaultRetryBackoff)
	t.maxBytes = cmp(cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	switch {
	case cfg.Retries < 0:
		t.retries = 0
	case cfg.Retries == 0:
		t.retries = DefaultHTTPRetries
	default:
		t.retries = cfg.Retries
	}
	if !t.idempotent {
		t.retries = 0
	}
	t.client = cfg.Client
	if t.client == nil {
		t.client = sharedClient
	}
	t.jitter = cfg.Jitter
	if t.jitter == nil {
		t.jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	t.decl = decl(cfg.Name, cfg.Description, slices.Clone(cfg.Parameters))
	return t, nil
}

// cmp returns v, or def when v is not positive.
func cmp[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// parseTemplate splits a URL template into literals and placeholders and
// checks that it is an http(s) URL whose scheme and host hold none.
func parseTemplate(tmpl string) (parts []urlPart, hasQuery bool, err error) {
	var sample strings.Builder
	rest := tmpl
	inQuery := false
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			parts = append(parts, urlPart{lit: rest})
			sample.WriteString(rest)
			inQuery = inQuery || strings.Contains(rest, "?")
			break
		}
		if rest[i] == '}' {
			return nil, false, errors.New("unbalanced '}'")
		}
		lit := rest[:i]
		inQuery = inQuery || strings.Contains(lit, "?")
		if lit != "" {
			parts = append(parts, urlPart{lit: lit})
			sample.WriteString(lit)
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, false, errors.New("unbalanced '{'")
		}
		name := rest[i+1 : i+end]
		if name == "" || strings.TrimFunc(name, func(r rune) bool { return r < 128 && llm.FunctionNameByte(byte(r)) && r != '-' }) != "" {
			return nil, false, fmt.Errorf("placeholder {%s}: the name must be letters, digits and '_'", name)
		}
		parts = append(parts, urlPart{param: name, query: inQuery})
		sample.WriteString("x")
		rest = rest[i+end+1:]
	}
	// The scheme and host must be literal: an argument that chose the
	// host would let the model send requests anywhere.
	u, err := url.Parse(sample.String())
	if err != nil {
		return nil, false, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, false, fmt.Errorf("the scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, false, errors.New("no host")
	}
	prefix := u.Scheme + "://" + u.Host
	if parts[0].param != "" || !strings.HasPrefix(parts[0].lit, prefix) ||
		len(parts[0].lit) > len(prefix) && !strings.ContainsAny(parts[0].lit[len(prefix):len(prefix)+1], "/?") ||
		len(parts[0].lit) == len(prefix) && len(parts) > 1 {
		return nil, false, errors.New("placeholders may only appear in the path or the query")
	}
	return parts, inQuery, nil
}

// Decl implements Tool.
func (t *httpTool) Decl() llm.Tool { return t.decl }

// Call validates args, builds the request and sends it, retrying an
// idempotent one after a transport error, 5xx, 408 or 429.
func (t *httpTool) Call(ctx context.Context, args json.RawMessage) (Result, error) {
	m, err := t.schema.parse(args)
	if err != nil {
		return Result{}, err
	}
	target, body, err := t.build(m)
	if err != nil {
		return Result{}, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		res, retryAfter, err := t.do(ctx, target, body)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, t.deadlineErr(parent, err)
		}
		if attempt >= t.retries || retryAfter < 0 {
			return Result{}, err
		}
		wait := t.jitter(t.backoff << attempt)
		if retryAfter > 0 {
			wait = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return Result{}, err // no time left to wait for another answer
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Result{}, t.deadlineErr(parent, err)
		case <-timer.C:
		}
	}
}

// deadlineErr is the error of a call whose context ended: the tool's time-out
// when it was that, else the parent's end (the run was cancelled or ran out
// of time), wrapped so that the Runner sees it.
func (t *httpTool) deadlineErr(parent context.Context, last error) error {
	if parent.Err() != nil {
		return fmt.Errorf("%w (last error: %v)", parent.Err(), last)
	}
	return fmt.Errorf("%w after %v (last error: %v)", ErrTimeout, t.timeout, last)
}

// build fills the URL template and puts the other arguments in the query
// or the body.
func (t *httpTool) build(args map[string]any) (target string, body []byte, err error) {
	var b strings.Builder
	var used []string
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := args[p.param]
		if !ok || v == nil {
			return "", nil, argsErr(fmt.Sprintf("missing argument %q, which the URL needs", p.param))
		}
		s, ok := scalarText(v)
		if !ok {
			return "", nil, argsErr(fmt.Sprintf("argument %q must be a string, number or boolean", p.param))
		}
		if p.query {
			b.WriteString(url.QueryEscape(s))
		} else {
			b.WriteString(pathEscape(s))
		}
		used = append(used, p.param)
	}
	rest := make([]string, 0, len(args))
	for k := range args {
		if !slices.Contains(used, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	if !t.bodyless {
		obj := make(map[string]any, len(rest))
		for _, k := range rest {
			obj[k] = args[k]
		}
		body, err = json.Marshal(obj)
		if err != nil {
			return "", nil, argsErr(err.Error())
		}
		return b.String(), body, nil
	}
	sep := byte('?')
	if t.hasQuery {
		sep = '&'
	}
	for _, k := range rest {
		var vals []any
		switch v := args[k].(type) {
		case nil:
			continue
		case []any:
			vals = v
		default:
			vals = []any{v}
		}
		for _, v := range vals {
			s, ok := scalarText(v)
			if !ok {
				j, err := json.Marshal(v)
				if err != nil {
					return "", nil, argsErr(err.Error())
				}
				s = string(j)
			}
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(s))
		}
	}
	return b.String(), nil, nil
}

// pathEscape escapes s as one path segment; "." and ".." are escaped too,
// which url.PathEscape leaves alone, so that no argument names a parent.
func pathEscape(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// scalarText returns the text of a JSON scalar as decoded with UseNumber.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// do sends one request. retryAfter is what the server asked to wait (0 for
// nothing said) or -1 when the error must not be retried.
func (t *httpTool) do(ctx context.Context, target string, body []byte) (res Result, retryAfter time.Duration, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, target, rd)
	if err != nil {
		return Result{}, -1, fmt.Errorf("build request: %w", err)
	}
	for _, h := range t.headers {
		req.Header.Set(h[0], h[1])
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "floodgate-tool")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		// The URL may carry secrets in its query: report the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{}, 0, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	content, truncated, rerr := readCapped(resp.Body, t.maxBytes)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if rerr != nil {
			return Result{}, 0, fmt.Errorf("read response: %w", rerr)
		}
		return Result{Content: content, Truncated: truncated}, 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return Result{}, parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %d %s", code, http.StatusText(code))
	case code >= 400:
		if rerr != nil {
			return Result{}, 0, fmt.Errorf("read response: %w", rerr)
		}
		if len(bytes.TrimSpace(content)) == 0 {
			content = appendErrorObject(nil, fmt.Sprintf("HTTP %d %s", code, http.StatusText(code)))
		}
		return Result{Content: content, IsError: true, Truncated: truncated}, 0, nil
	default:
		return Result{}, -1, fmt.Errorf("unexpected HTTP %d %s", code, http.StatusText(code))
	}
}

func appendErrorObject(dst []byte, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendString(dst, msg)
	return append(dst, '}')
}

// readCapped reads at most max bytes of r; truncated reports that there
// was more, in which case the content is cut back to a UTF-8 boundary.
func readCapped(r io.Reader, max int) (b []byte, truncated bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, int64(max)+1))
	if len(b) > max {
		return b[:utf8Cut(b, max)], true, err
	}
	return b, false, err
}

// maxRetryAfter bounds the Retry-After honoured: a tool that asks for
// longer is treated as failed now rather than holding the run.
const maxRetryAfter = 5 * time.Second

// parseRetryAfter reads a Retry-After in seconds; 0 when absent, unparsable
// or too long to wait.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s < 0 {
		return 0
	}
	d := time.Duration(s * float64(time.Second))
	if d > maxRetryAfter {
		return 0
	}
	return d
}
