package router

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestTraceOutcome(t *testing.T) {
	req := &llm.Request{Model: "large"}
	resp := &llm.Response{Usage: &llm.Usage{PromptTokens: 1}}
	var empty Trace
	assert.Equal(t, "large", empty.ModelOf(req), "no route tried: the request's model")
	assert.Same(t, resp.Usage, empty.UsageOf(resp), "no usage traced: the response's")
	assert.Nil(t, empty.UsageOf(nil))

	tr := Trace{Model: "small", Usage: &llm.Usage{PromptTokens: 2}}
	assert.Equal(t, "small", tr.ModelOf(req))
	assert.Same(t, tr.Usage, tr.UsageOf(resp))
	assert.Same(t, tr.Usage, tr.UsageOf(nil))
}
