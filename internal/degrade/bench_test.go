package degrade

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/rules"
)

// BenchmarkClimb climbs the default ladder with instant fakes: the
// ladder's own cost per degraded answer, without the rungs' work.
func BenchmarkClimb(b *testing.B) {
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(b, err)
	errDown := errors.New("down")
	failing := Rungs{
		Model:   func(context.Context, string) (string, error) { return "", errDown },
		Rules:   func(context.Context, *rules.Rules, string) (string, error) { return "", errDown },
		Handoff: func(context.Context, HandoffRequest) (string, error) { return "", errDown },
	}
	answering := failing
	answering.Rules = func(context.Context, *rules.Rules, string) (string, error) {
		return "Your order 100123 is in transit.", nil
	}
	tests := []struct {
		name    string
		metrics *Metrics
		s       Situation
		rs      Rungs
	}{
		{"all_fail_to_message", nil, Situation{Trigger: ModelError, Handoff: true, Lang: "en"}, failing},
		{"all_fail_to_message_metrics", m, Situation{Trigger: ModelError, Handoff: true, Lang: "en"}, failing},
		{"rules_answer", nil, Situation{Trigger: NoHealthyEndpoint, Intent: "order_status", Lang: "en"}, answering},
		{"rules_answer_detect_lang", nil, Situation{Trigger: Shed, Message: "Wo ist meine Bestellung 100123? Sie sollte schon da sein."}, answering},
		{"prompt_filter_block", nil, Situation{Trigger: PromptFilterBlock, Lang: "en"}, failing},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			l, err := New(Config{}, Options{Agent: "support", SmallModel: "small", Metrics: tt.metrics})
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				out := l.Climb(ctx, tt.s, tt.rs)
				if out.Text == "" {
					b.Fatal("no answer")
				}
			}
		})
	}
}

// answer1KB is a realistic 1 KB final answer: order numbers, a tracking
// number, dates, prices, the shop's contacts and the customer's e-mail.
var answer1KB = func() string {
	s := "Thanks for your patience, Anna. Your order 100123 (Wireless Headphones, 129.90 EUR) left our warehouse on " +
		"21.11.2026 and is in transit with DHL, tracking number 003404341234. The last scan was in Leipzig on " +
		"2026-11-26 at 14:30, and the carrier expects to deliver it on Nov 29, 2026. We will send any update to " +
		"anna.schmidt@example.de. If it has not arrived by Dec 2, reply here and we will open an investigation with " +
		"DHL; you do not need to do anything else. Returns are accepted within 30 days of delivery, so you have " +
		"plenty of time if the headphones are not what you expected. Refunds reach you 5 to 10 days after we receive " +
		"the items. For anything urgent, our team is at support@floodgate-shop.example or +49 30 1234 5678, Monday " +
		"to Friday from 9 to 17. Is there anything else I can help you with today, for example with order 100123's " +
		"invoice or the delivery address? "
	for len(s) < 1024 {
		s += "Have a nice day. "
	}
	return s[:1024]
}()

// BenchmarkChecks runs every output check on a 1 KB answer against a
// realistic conversation (system prompt, question, tool call and
// result).
func BenchmarkChecks(b *testing.B) {
	const ask = "Hi, where is my order 100123? It was supposed to arrive by now."
	c, err := NewChecker(Checks{SystemPrompt: &PromptLeakCheck{}, ForeignData: &ForeignDataCheck{}, OrderNumber: &OrderNumberCheck{}},
		CheckerOptions{Instructions: shopInstructions})
	require.NoError(b, err)
	in := &CheckInput{Answer: answer1KB, Message: ask, Messages: conversation(ask)}
	require.NoError(b, c.Check(in))
	schema, err := NewChecker(Checks{JSONSchema: map[string]any{"type": "object", "required": []any{"answer"},
		"properties": map[string]any{"answer": map[string]any{"type": "string"}}}}, CheckerOptions{})
	require.NoError(b, err)
	jsonIn := &CheckInput{Answer: `{"answer":` + strings.ReplaceAll(`"`+answer1KB[:1000]+`"`, "\n", " ") + `}`}
	require.NoError(b, schema.Check(jsonIn))
	tests := []struct {
		name string
		c    *Checker
		in   *CheckInput
	}{
		{"all_text_checks_1KB", c, in},
		{"json_schema_1KB", schema, jsonIn},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.in.Answer)))
			for b.Loop() {
				if err := tt.c.Check(tt.in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
		})
	}
}

func BenchmarkDetectLang(b *testing.B) {
	msg := "Wo ist meine Bestellung 100123? Sie sollte schon da sein, aber das Paket ist noch nicht angekommen."
	b.ReportAllocs()
	for b.Loop() {
		if DetectLang(msg, "en") != "de" {
			b.Fatal("wrong language")
		}
	}
}
