package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schema is a compiled JSON Schema of a tool's arguments. It is safe for
// concurrent use.
type schema struct {
	s *jsonschema.Schema
}

// noLoader refuses every external reference: a schema is compiled from
// what it says, never from a file or URL it names (an MCP server's schema
// must not make this process read its disk).
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema reference %q is not allowed", url)
}

// compileSchema compiles the arguments schema of a tool. The schema must be
// an object schema: function tools take a JSON object.
func compileSchema(name string, doc json.RawMessage) (*schema, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errors.New("no JSON Schema for the arguments")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("parse JSON Schema: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the JSON Schema of the arguments must be an object")
	}
	if t, ok := obj["type"]; ok && t != "object" {
		return nil, fmt.Errorf(`the JSON Schema of the arguments must have "type": "object", not %v`, t)
	}
	s, err := CompileSchema("urn:floodgate:tool:"+name, v)
	if err != nil {
		return nil, fmt.Errorf("compile JSON Schema: %w", err)
	}
	return &schema{s: s}, nil
}

// CompileSchema compiles doc, a JSON Schema as jsonschema.UnmarshalJSON
// decodes it, under the resource name url: draft 2020-12 unless it says
// otherwise, and no external references, since a schema is compiled from
// what the configuration says, never from a file or URL it names.
func CompileSchema(url string, doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// parse decodes args (an empty text is {}) and validates them. The value
// is what encoding/json decodes with UseNumber.
func (s *schema) parse(args []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return nil, argsErr("the arguments are not valid JSON: " + err.Error())
	}
	if s != nil {
		if err := s.s.Validate(v); err != nil {
			return nil, argsErr(validationText(err))
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, argsErr("the arguments must be a JSON object")
	}
	return obj, nil
}

var printer = message.NewPrinter(language.English)

// maxSchemaMessages bounds how many violations are told to the model: the
// first few are enough to fix the call, and each costs tokens.
const maxSchemaMessages = 5

// validationText turns a validation error into one line the model can act
// on: "missing property 'order_id'; at '/qty': got string, want integer".
func validationText(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(msgs) >= maxSchemaMessages {
			return
		}
		if len(e.Causes) == 0 {
			m := e.ErrorKind.LocalizedString(printer)
			if len(e.InstanceLocation) > 0 {
				m = "at '/" + strings.Join(e.InstanceLocation, "/") + "': " + m
			}
			msgs = append(msgs, m)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(msgs) == 0 {
		return "the arguments do not match the tool's schema"
	}
	return strings.Join(msgs, "; ")
}
