package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// funcs returns the template functions for answers in lang.
func funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"human": human,
		"date":  func(v any) string { return formatDate(lang, v) },
		"money": money,
		"upper": func(v any) string { return strings.ToUpper(str(v)) },
		"lower": func(v any) string { return strings.ToLower(str(v)) },
		"default": func(def, v any) any {
			if v == nil || str(v) == "" {
				return def
			}
			return v
		},
		"join": join,
	}
}

// str formats a template value: strings as they are, numbers as written,
// nil as "".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// human turns a snake_case value into words: "out_for_delivery" → "out
// for delivery".
func human(v any) string { return strings.ReplaceAll(str(v), "_", " ") }

// dateLayouts are the date formats by language; others keep YYYY-MM-DD.
var dateLayouts = map[string]string{
	"en": "Jan 2, 2006",
	"de": "02.01.2006",
	"fr": "02/01/2006",
	"es": "02/01/2006",
}

// formatDate formats a YYYY-MM-DD date (or an RFC 3339 time) for lang;
// other values are returned as they are.
func formatDate(lang string, v any) string {
	s := str(v)
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
		if err != nil {
			return s
		}
	}
	layout, ok := dateLayouts[lang]
	if !ok {
		layout = time.DateOnly
	}
	return t.Format(layout)
}

// money formats an amount with two decimals: 129.9 → "129.90".
func money(v any) string {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return x.String()
		}
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return str(v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return str(v)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// join joins a list's elements with sep.
func join(sep string, v any) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, sep)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = str(e)
		}
		return strings.Join(parts, sep)
	}
	return str(v)
}
