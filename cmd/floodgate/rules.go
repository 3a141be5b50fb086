package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

const rulesUsage = `usage: floodgate rules test [flags] FILE   try a rules file on sample messages
       floodgate rules default             print the built-in rules of the demo shop

rules test answers each message of --samples (or each line of standard
input) with the rules of FILE and prints the rule that matched, the
arguments it extracted and the rendered answer. Tools are answered by the
sample file's canned results, else called against --shop-url (the tools of
the default configuration) or the tools of --config. It exits non-zero
when an expectation of the sample file is not met.

A sample file (YAML; canned values are YAML, or JSON text in a string):

  lang: en                          # default language of the samples
  tools:                            # canned results for every sample
    get_order_status: {order_id: 100123, status: delivered, shipment: {carrier: DHL, delivered_at: "2026-11-02"}}
  samples:
    - message: where is my order 100123?
      intent: order_status          # optional, as a classifier gives it
      facts: {order_number: ["100123"]}
      tools: {}                     # this sample's canned results, first
      tool_errors: {}               # canned domain errors: {error: …, code: order_not_found}
      expect:                       # optional; unset fields are not checked
        rule: order_status
        kind: answer                # answer, ask or tool_error
        args: {order_id: "100123"}
        contains: ["delivered"]
        answer: the exact answer
        no_answer: tool_failed      # or "true": any reason`

// runRules is the "rules" command.
func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "test":
			return rulesTest(ctx, args[1:], os.Stdin, stdout, stderr)
		case "default":
			if len(args) == 1 {
				_, err := stdout.Write(rules.DefaultYAML)
				return err
			}
		}
	}
	fmt.Fprintln(stderr, rulesUsage)
	return errUsage
}

// sampleFile is the --samples file: messages, what to expect of their
// answers, and canned tool results.
type sampleFile struct {
	// Lang and Intent are the defaults of the samples.
	Lang   string `yaml:"lang"`
	Intent string `yaml:"intent"`
	// Tools are canned results by tool name, for every sample: YAML
	// values, or JSON text in a string.
	Tools map[string]any `yaml:"tools"`
	// ToolErrors are canned domain errors by tool name ({"error": …,
	// "code": "order_not_found"}).
	ToolErrors map[string]any `yaml:"tool_errors"`
	Samples    []sample       `yaml:"samples"`
}

type sample struct {
	Message    string              `yaml:"message"`
	Intent     string              `yaml:"intent"`
	Lang       string              `yaml:"lang"`
	Facts      map[string][]string `yaml:"facts"`
	Tools      map[string]any      `yaml:"tools"`
	ToolErrors map[string]any      `yaml:"tool_errors"`
	Expect     *expectation        `yaml:"expect"`
}

// expectation is what a sample's answer must be; unset fields are not
// checked.
type expectation struct {
	// Rule is the rule that must answer.
	Rule string `yaml:"rule"`
	// Kind is answer, ask or tool_error.
	Kind string `yaml:"kind"`
	// Args are arguments that must have been extracted with these values.
	Args map[string]string `yaml:"args"`
	// Answer is the exact answer.
	Answer string `yaml:"answer"`
	// Contains are substrings of the answer.
	Contains []string `yaml:"contains"`
	// NoAnswer expects no answer: "true" for any reason, or the reason
	// (no_match, missing_argument, tool_failed, …).
	NoAnswer string `yaml:"no_answer"`
}

// rulesResult is one message's outcome, printed as text or JSON.
type rulesResult struct {
	Message  string            `json:"message"`
	Intent   string            `json:"intent,omitempty"`
	Lang     string            `json:"lang,omitempty"`
	Rule     string            `json:"rule,omitempty"`
	Kind     string            `json:"kind,omitempty"`
	Args     map[string]string `json:"args,omitempty"`
	Tool     string            `json:"tool,omitempty"`
	Source   string            `json:"tool_source,omitempty"`
	Answer   string            `json:"answer,omitempty"`
	NoAnswer string            `json:"no_answer,omitempty"`
	Error    string            `json:"error,omitempty"`
	Checked  bool              `json:"checked"`
	Failures []string          `json:"failures,omitempty"`
}

// rulesTest is "rules test"; stdin gives the messages without --samples.
func rulesTest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("rules test", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, rulesUsage+"\n\nflags:"); fs.PrintDefaults() }
	samplesPath := fs.String("samples", "", "sample file (YAML); default: one message per line on standard input")
	shopURL := fs.String("shop-url", "", "call the default configuration's tools against the demo shop at this URL")
	configPath := fs.String("config", "", "call the tools of this configuration file (${SHOP_URL} is --shop-url)")
	lang := fs.String("lang", "", "language of the messages read from standard input (default: the rules' default)")
	intent := fs.String("intent", "", "intent of the messages read from standard input, as a classifier would give it")
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each message's tool call")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return errUsage
	}
	rs, err := rules.LoadFile(files[0])
	if err != nil {
		return err
	}

	var sf sampleFile
	if *samplesPath != "" {
		if sf, err = loadSamples(*samplesPath); err != nil {
			return err
		}
	} else {
		sf.Lang, sf.Intent = *lang, *intent
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			sf.Samples = append(sf.Samples, sample{Message: line})
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
	}

	live, stop, err := liveTools(ctx, *configPath, *shopURL)
	if err != nil {
		return err
	}
	defer stop()

	checked, failed := 0, 0
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for i, s := range sf.Samples {
		res := answerSample(ctx, rs, &sf, s, live, *timeout)
		if res.Checked {
			checked++
			if len(res.Failures) > 0 {
				failed++
			}
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		printResult(stdout, i+1, res)
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%d messages, %d with expectations: %d met, %d not met\n", len(sf.Samples), checked, checked-failed, failed)
	}
	if failed > 0 {
		return fmt.Errorf("rules test: %d of %d expectations not met", failed, checked)
	}
	return nil
}

// parseInterleaved parses flags that may come after positional arguments
// ("FILE --shop-url X") and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func loadSamples(path string) (sampleFile, error) {
	var sf sampleFile
	b, err := os.ReadFile(path)
	if err != nil {
		return sf, fmt.Errorf("samples: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sf); err != nil {
		return sf, fmt.Errorf("samples: %s: %w", path, err)
	}
	for i, s := range sf.Samples {
		if strings.TrimSpace(s.Message) == "" {
			return sf, fmt.Errorf("samples: %s: samples[%d] has no message", path, i)
		}
	}
	return sf, nil
}

// liveTools returns a function that gives each message the tools of a
// fresh run over the configuration's registry, or nil without a shop or
// configuration; stop ends the registry's MCP connections, if any.
func liveTools(ctx context.Context, configPath, shopURL string) (func([]string) rules.ToolCaller, func(), error) {
	var cfg *config.Config
	switch {
	case configPath != "":
		b, err := os.ReadFile(configPath)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		cfg, err = config.Parse(b, func(name string) (string, bool) {
			if name == "SHOP_URL" && shopURL != "" {
				return shopURL, true
			}
			return os.LookupEnv(name)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("config: %s: %w", configPath, err)
		}
	case shopURL != "":
		cfg = config.Default(strings.TrimRight(shopURL, "/"))
	default:
		return nil, func() {}, nil
	}
	reg, err := newRegistry(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = reg.Run(rctx)
	}()
	stop := func() {
		cancel()
		<-done
	}
	return func(names []string) rules.ToolCaller {
		return rules.RunnerTools(reg.NewRunner(names, tool.Limits{}))
	}, stop, nil
}

// sampleTools answers a sample's tool calls: the sample's canned results
// and domain errors first, then the file's, then the live tools; it
// remembers where the last answer came from.
type sampleTools struct {
	layers []cannedLayer // the sample's, then the file's
	live   rules.ToolCaller
	source string
}

type cannedLayer struct{ results, errs map[string]json.RawMessage }

func (s *sampleTools) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	for _, l := range s.layers {
		if r, ok := l.results[name]; ok {
			s.source = "canned"
			return r, nil
		}
		if r, ok := l.errs[name]; ok {
			s.source = "canned"
			return nil, &rules.ToolError{Tool: name, Body: r}
		}
	}
	if s.live != nil {
		s.source = "live"
		return s.live.Call(ctx, name, args)
	}
	s.source = "none"
	return nil, fmt.Errorf("no canned result for %s, and neither --shop-url nor --config to call it", name)
}

// layer turns canned values into JSON: YAML values, or JSON text in a
// string.
func layer(results, errs map[string]any) (cannedLayer, error) {
	var l cannedLayer
	var err error
	if l.results, err = cannedJSON(results); err != nil {
		return l, err
	}
	l.errs, err = cannedJSON(errs)
	return l, err
}

func cannedJSON(m map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for name, v := range m {
		if s, ok := v.(string); ok && json.Valid([]byte(s)) {
			out[name] = json.RawMessage(s)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("canned result of %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

func answerSample(ctx context.Context, rs *rules.Rules, sf *sampleFile, s sample, live func([]string) rules.ToolCaller, timeout time.Duration) rulesResult {
	in := rules.Input{Message: s.Message, Intent: s.Intent, Lang: s.Lang, Facts: s.Facts}
	if in.Intent == "" {
		in.Intent = sf.Intent
	}
	if in.Lang == "" {
		in.Lang = sf.Lang
	}
	res := rulesResult{Message: s.Message, Intent: in.Intent, Lang: in.Lang}
	sl, err := layer(s.Tools, s.ToolErrors)
	if err == nil {
		var fl cannedLayer
		if fl, err = layer(sf.Tools, sf.ToolErrors); err == nil {
			tools := &sampleTools{layers: []cannedLayer{sl, fl}}
			if live != nil {
				tools.live = live(rs.Tools())
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			var a *rules.Answer
			a, err = rs.Answer(cctx, tools, in)
			cancel()
			res.Source = tools.source
			if a != nil {
				res.Rule, res.Kind, res.Args, res.Tool, res.Answer, res.Lang = a.Rule, string(a.Kind), a.Args, a.Tool, a.Text, a.Lang
			}
		}
	}
	var na *rules.NoAnswer
	switch {
	case errors.As(err, &na):
		res.NoAnswer, res.Rule, res.Args, res.Error = string(na.Reason), na.Rule, na.Args, err.Error()
	case err != nil:
		res.Error = err.Error()
	}
	if s.Expect != nil {
		res.Checked = true
		res.Failures = s.Expect.check(&res)
	}
	return res
}

// check lists how res misses the expectation.
func (e *expectation) check(res *rulesResult) []string {
	var f []string
	if e.NoAnswer != "" {
		switch {
		case res.NoAnswer == "":
			f = append(f, fmt.Sprintf("want no answer, got an answer by rule %s", res.Rule))
		case e.NoAnswer != "true" && e.NoAnswer != res.NoAnswer:
			f = append(f, fmt.Sprintf("want no answer for %s, got no answer for %s", e.NoAnswer, res.NoAnswer))
		}
	} else if res.Answer == "" {
		f = append(f, "want an answer, got none: "+res.Error)
	}
	if e.Rule != "" && e.Rule != res.Rule {
		f = append(f, fmt.Sprintf("want rule %s, got %q", e.Rule, res.Rule))
	}
	if e.Kind != "" && e.Kind != res.Kind {
		f = append(f, fmt.Sprintf("want kind %s, got %q", e.Kind, res.Kind))
	}
	keys := make([]string, 0, len(e.Args))
	for k := range e.Args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got, ok := res.Args[k]; !ok || got != e.Args[k] {
			f = append(f, fmt.Sprintf("want argument %s=%q, got %q", k, e.Args[k], got))
		}
	}
	if e.Answer != "" && e.Answer != res.Answer {
		f = append(f, fmt.Sprintf("want the answer %q, got %q", e.Answer, res.Answer))
	}
	for _, c := range e.Contains {
		if !strings.Contains(res.Answer, c) {
			f = append(f, fmt.Sprintf("want the answer to contain %q", c))
		}
	}
	return f
}

func printResult(w io.Writer, n int, r rulesResult) {
	fmt.Fprintf(w, "#%d %q", n, r.Message)
	if r.Intent != "" {
		fmt.Fprintf(w, " (intent %s)", r.Intent)
	}
	fmt.Fprintln(w)
	if r.Rule != "" {
		fmt.Fprintf(w, "   rule     %s", r.Rule)
		if r.Kind != "" {
			fmt.Fprintf(w, " (%s, %s)", r.Kind, r.Lang)
		}
		fmt.Fprintln(w)
	}
	if len(r.Args) > 0 {
		keys := make([]string, 0, len(r.Args))
		for k := range r.Args {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + r.Args[k]
		}
		fmt.Fprintf(w, "   args     %s\n", strings.Join(parts, " "))
	}
	if r.Tool != "" {
		fmt.Fprintf(w, "   tool     %s (%s)\n", r.Tool, r.Source)
	}
	switch {
	case r.Answer != "":
		fmt.Fprintf(w, "   answer   %s\n", r.Answer)
	case r.NoAnswer != "":
		fmt.Fprintf(w, "   no answer: %s\n", r.Error)
	case r.Error != "":
		fmt.Fprintf(w, "   error    %s\n", r.Error)
	}
	if !r.Checked {
		return
	}
	if len(r.Failures) == 0 {
		fmt.Fprintln(w, "   ok")
		return
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "   NOT MET  %s\n", f)
	}
}
