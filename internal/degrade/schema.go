package degrade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/floodgate-dev/floodgate/internal/tool"
)

// compileSchema compiles a JSON Schema given as decoded YAML or JSON
// (draft 2020-12 unless it says otherwise).
func compileSchema(doc map[string]any) (*jsonschema.Schema, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %w", err)
	}
	return tool.CompileSchema("urn:floodgate:degrade:output", v)
}

// jsonBody returns the JSON of an answer: the text itself, or the inside
// of the one fenced code block it consists of (```json … ```), which
// models write even when asked for bare JSON.
func jsonBody(answer string) string {
	s := strings.TrimSpace(answer)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	s = strings.TrimSuffix(s[3:], "```")
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && !strings.ContainsAny(s[:nl], "{[\"") {
		s = s[nl+1:] // the info string: json
	}
	return strings.TrimSpace(s)
}

var printer = message.NewPrinter(language.English)

// schemaText is the first violation of a validation error, in one line:
// "at '/status': value must be one of ...".
func schemaText(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	m := ve.ErrorKind.LocalizedString(printer)
	if len(ve.InstanceLocation) > 0 {
		m = "at '/" + strings.Join(ve.InstanceLocation, "/") + "': " + m
	}
	return m
}
