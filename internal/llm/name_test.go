package llm

import (
	"strings"
	"testing"
)

func TestValidFunctionName(t *testing.T) {
	for name, want := range map[string]bool{
		"get_order_status":                        true,
		"transfer-to_Support2":                    true,
		strings.Repeat("a", MaxFunctionNameLen):   true,
		strings.Repeat("a", MaxFunctionNameLen+1): false,
		"":          false,
		"has space": false,
		"dot.ted":   false,
		"ünïcode":   false,
	} {
		if got := ValidFunctionName(name); got != want {
			t.Errorf("ValidFunctionName(%q) = %v, want %v", name, got, want)
		}
	}
}
