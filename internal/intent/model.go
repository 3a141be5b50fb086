package intent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Errors of the model stage, in Result.ModelErr (wrapped).
var (
	// ErrBadReply: the model's reply names no configured intent.
	ErrBadReply = errors.New("intent: model reply names no known intent")
	// ErrNoReply: the model returned no choice or empty content.
	ErrNoReply = errors.New("intent: empty model reply")
)

// modelDefaultConfidence is the confidence of a model answer that states
// none: the model was asked because the rules were unsure, and answered.
const modelDefaultConfidence = 0.75

// maxReplyBytes bounds the part of a reply that is parsed.
const maxReplyBytes = 4096

var jsonObject = json.RawMessage(`{"type":"json_object"}`)

// PromptPrefix begins the model stage's system prompt, so that a
// simulated model can recognise a classification request.
const PromptPrefix = "You classify one message a customer sent to an online shop's support assistant."

// systemPrompt lists the intents for the model stage.
func systemPrompt(intents []IntentConfig) string {
	var b strings.Builder
	b.WriteString(PromptPrefix + "\n")
	b.WriteString("Reply with one JSON object and nothing else: ")
	b.WriteString(`{"intent": "<name>", "secondary": "<name or empty>", "complexity": "simple|standard|complex", "confidence": <0 to 1>}` + "\n")
	b.WriteString("secondary is a second, different request in the same message. complexity is simple for one plain request, complex for several requests, comparisons or complaints.\n")
	b.WriteString("Intents:\n")
	for _, in := range intents {
		b.WriteString("- ")
		b.WriteString(in.Name)
		if in.Description != "" {
			b.WriteString(": ")
			b.WriteString(in.Description)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// askModel runs the model stage; on any failure it returns rules with the
// error in ModelErr.
func (c *Classifier) askModel(ctx context.Context, text string, rules Result) Result {
	text = truncate(text, c.rules.maxBytes)
	ctx, cancel := context.WithTimeout(ctx, c.stage.Timeout)
	defer cancel()
	zero := 0.0
	maxTokens := c.stage.MaxTokens
	req := &llm.Request{
		Model: c.stage.Model,
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: llm.Text(c.prompt)},
			{Role: llm.RoleUser, Content: llm.Text(text)},
		},
		Temperature:         &zero,
		MaxCompletionTokens: &maxTokens,
		ResponseFormat:      jsonObject,
	}
	resp, err := c.model.Complete(ctx, req)
	if err != nil {
		rules.ModelErr = fmt.Errorf("intent model %s: %w", c.stage.Model, err)
		return rules
	}
	if len(resp.Choices) == 0 {
		rules.ModelErr = fmt.Errorf("intent model %s: %w", c.stage.Model, ErrNoReply)
		return rules
	}
	res, err := c.parseReply(resp.Choices[0].Message.Content.String())
	if err != nil {
		rules.ModelErr = fmt.Errorf("intent model %s: %w", c.stage.Model, err)
		return rules
	}
	res.Rule = "model:" + c.stage.Model
	return res
}

type modelReply struct {
	Intent     string   `json:"intent"`
	Secondary  string   `json:"secondary"`
	Complexity string   `json:"complexity"`
	Confidence *float64 `json:"confidence"`
}

// parseReply reads the model's answer: a JSON object (possibly inside a
// code fence or prose), else a short reply naming exactly one configured
// intent. Unknown secondary intents and complexities are
// dropped rather than failing the reply: the intent is what matters.
func (c *Classifier) parseReply(s string) (Result, error) {
	if len(s) > maxReplyBytes {
		s = s[:maxReplyBytes]
	}
	if strings.TrimSpace(s) == "" {
		return Result{}, ErrNoReply
	}
	var rep modelReply
	if i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}'); i >= 0 && j > i {
		dec := json.NewDecoder(strings.NewReader(s[i : j+1]))
		if dec.Decode(&rep) != nil {
			rep = modelReply{}
		}
	}
	primary, ok := c.rules.byName[strings.ToLower(strings.TrimSpace(rep.Intent))]
	if !ok {
		primary, ok = c.mentioned(s)
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: %.80q", ErrBadReply, s)
	}
	res := Result{
		Intent:     c.rules.intents[primary].name,
		Complexity: c.rules.intents[primary].complexity,
		Confidence: modelDefaultConfidence,
		Source:     SourceModel,
	}
	if cx, err := ParseComplexity(strings.ToLower(strings.TrimSpace(rep.Complexity))); err == nil {
		res.Complexity = cx
	}
	if sec, ok := c.rules.byName[strings.ToLower(strings.TrimSpace(rep.Secondary))]; ok && sec != primary && !c.rules.intents[sec].background {
		res.Secondary = c.rules.intents[sec].name
		res.Complexity = Complex
	}
	if rep.Confidence != nil && *rep.Confidence >= 0 && *rep.Confidence <= 1 {
		res.Confidence = *rep.Confidence
	}
	secondary := -1
	if res.Secondary != "" {
		secondary = c.rules.byName[res.Secondary]
	}
	res.Agent = c.agent(primary, secondary, res.Confidence)
	return res, nil
}

// maxPlainWords bounds a reply that names its intent without JSON: a
// longer text is prose (a model that ignored the instructions, or a
// customer-service answer) in which an intent name such as "other" may
// appear by chance.
const maxPlainWords = 8

// mentioned finds the one configured intent whose name a short reply
// contains as a whole word ("The intent is shipment_tracking.").
func (c *Classifier) mentioned(s string) (int, bool) {
	if len(strings.Fields(s)) > maxPlainWords {
		return -1, false
	}
	low := strings.ToLower(s)
	found := -1
	for i, in := range c.rules.intents {
		for off := 0; off < len(low); {
			k := strings.Index(low[off:], in.name)
			if k < 0 {
				break
			}
			k += off
			end := k + len(in.name)
			if (k == 0 || !isNameByte(low[k-1])) && (end == len(low) || !isNameByte(low[end])) {
				if found >= 0 {
					return -1, false // two names: ambiguous
				}
				found = i
				break
			}
			off = k + 1
		}
	}
	return found, found >= 0
}

func isNameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_'
}
