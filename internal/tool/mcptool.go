package tool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// mcpTool is one tool of an MCP server, under its exposed name.
type mcpTool struct {
	srv    *mcpServer
	remote string // the server's own name for it
	decl   llm.Tool
	schema *schema // nil when the server's schema does not compile here
	retry  bool    // read-only or idempotent: safe to resend after a broken session
}

func newMCPTool(s *mcpServer, name string, t *mcp.Tool) (*mcpTool, error) {
	params, err := json.Marshal(t.InputSchema)
	if err != nil || t.InputSchema == nil {
		params = []byte(`{"type":"object","properties":{}}`)
	}
	mt := &mcpTool{srv: s, remote: t.Name, decl: decl(name, t.Description, params)}
	if sch, err := compileSchema(name, params); err == nil {
		mt.schema = sch
	} else {
		// The server validates anyway; this side only saves a round trip.
		s.m.log.Debug("mcp: tool schema not compiled; arguments go unchecked", "mcp_server", s.cfg.Name, "tool", t.Name, "error", err)
	}
	if a := t.Annotations; a != nil {
		mt.retry = a.ReadOnlyHint || a.IdempotentHint
	}
	return mt, nil
}

// Decl implements Tool.
func (t *mcpTool) Decl() llm.Tool { return t.decl }

// Call implements Tool. A call that finds the server's session gone (404
// for its id) is sent again on a new session, since the server never saw
// it; after a broken connection, only read-only or idempotent tools are.
func (t *mcpTool) Call(ctx context.Context, args json.RawMessage) (Result, error) {
	if t.schema != nil {
		if _, err := t.schema.parse(args); err != nil {
			return Result{}, err
		}
	}
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.srv.cfg.CallTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		cs, gen, err := t.srv.session(ctx)
		if err != nil {
			return Result{}, t.callErr(parent, ctx, err)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: t.remote, Arguments: args})
		t.srv.release()
		if err == nil {
			return mcpResult(res), nil
		}
		var werr *jsonrpc.Error
		missing := errors.Is(err, mcp.ErrSessionMissing)
		retry := missing // the server never saw the call
		switch {
		case missing || errors.Is(err, mcp.ErrConnectionClosed):
			t.srv.drop(cs, gen)
			retry = retry || t.retry
		case !errors.As(err, &werr) || werr.Code == codeRejected:
			// A transport error (say a pooled connection the restarted
			// server had closed): the call may or may not have run.
			retry = t.retry
		}
		if !retry || attempt >= maxMCPAttempts || ctx.Err() != nil {
			return Result{}, t.callErr(parent, ctx, err)
		}
	}
}

// codeRejected is the code of the SDK's error for a message its transport
// failed to send (jsonrpc2.ErrRejected, internal to the SDK); errors the
// server answered with have other codes.
const codeRejected = -32005

// maxMCPAttempts bounds the sends of one MCP call: after a server restart a
// call can meet a dead pooled connection and then the unknown session.
const maxMCPAttempts = 3

// callErr classifies a failed call: the run's own end, the call's
// time-out, invalid parameters (as the server judged them), or a failure.
func (t *mcpTool) callErr(parent, ctx context.Context, err error) error {
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("%w: %v", parent.Err(), err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w after %v", ErrTimeout, t.srv.cfg.CallTimeout)
	}
	var werr *jsonrpc.Error
	if errors.As(err, &werr) && werr.Code == jsonrpc.CodeInvalidParams {
		return argsErr(werr.Message) // the server judged the arguments
	}
	return fmt.Errorf("mcp %s: %w", t.srv.cfg.Name, err)
}

// mcpResult turns an MCP tool result into a Result: the structured
// content as JSON when there is some, else the text contents joined by
// newlines, with other content named in brackets.
func mcpResult(res *mcp.CallToolResult) Result {
	out := Result{IsError: res.IsError}
	if res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			out.Content = b
			return out
		}
	}
	var b []byte
	for i, c := range res.Content {
		if i > 0 {
			b = append(b, '\n')
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b = append(b, c.Text...)
		case *mcp.ImageContent:
			b = append(b, "[image: "+c.MIMEType+"]"...)
		case *mcp.AudioContent:
			b = append(b, "[audio: "+c.MIMEType+"]"...)
		case *mcp.ResourceLink:
			b = append(b, "[resource: "+c.URI+"]"...)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				b = append(b, c.Resource.Text...)
			} else if c.Resource != nil {
				b = append(b, "[resource: "+c.Resource.URI+"]"...)
			}
		default:
			b = append(b, "[unsupported content]"...)
		}
	}
	out.Content = b
	return out
}
