package provider

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// streamWire and completeWire are the reference for the stream fields a
// request goes upstream with: encoding/json lets the outer fields hide the
// embedded ones of the same name.
type streamWire struct {
	*llm.Request
	Stream        bool               `json:"stream"`
	StreamOptions *llm.StreamOptions `json:"stream_options"`
}

type completeWire struct {
	*llm.Request
	Stream        bool               `json:"stream,omitempty"`
	StreamOptions *llm.StreamOptions `json:"stream_options,omitempty"`
}

func wireJSON(t *testing.T, req *llm.Request, stream bool) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if stream {
		require.NoError(t, enc.Encode(streamWire{Request: req, Stream: true, StreamOptions: includeUsage}))
	} else {
		require.NoError(t, enc.Encode(completeWire{Request: req}))
	}
	return buf.String()
}

func TestRequestBody(t *testing.T) {
	tests := []struct {
		name string
		give func(*llm.Request)
	}{
		{"plain", func(*llm.Request) {}},
		{"caller asked to stream", func(r *llm.Request) {
			r.Stream, r.StreamOptions = true, &llm.StreamOptions{}
		}},
		{"maps and parts", func(r *llm.Request) {
			r.Metadata = map[string]string{"tenant": "acme", "a": "<b>"}
			r.LogitBias = map[string]float64{"50256": -100}
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: llm.PartsContent(llm.ContentPart{Type: llm.PartText, Text: "a & b"})})
		}},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				req := testRequest()
				tt.give(req)
				before := wireJSON(t, req, false)
				b, err := newReqBody(req, stream)
				require.NoError(t, err)
				defer b.release()
				assert.Equal(t, wireJSON(t, req, stream), string(b.data))
				assert.Equal(t, before, wireJSON(t, req, false), "the caller's request is only read")
			})
		}
	}
}

func TestRequestBodyRefused(t *testing.T) {
	req := testRequest()
	nan := math.NaN()
	req.Temperature = &nan
	_, err := newReqBody(req, true)
	assert.Error(t, err)
}
