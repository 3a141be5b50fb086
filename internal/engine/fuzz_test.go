package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzAppendOrders feeds tool-call arguments as a model may write them:
// whatever they are, the order numbers found are 5 to 9 digits, unique.
func FuzzAppendOrders(f *testing.F) {
	f.Add(`{"order_id":"100123"}`)
	f.Add(`{"order_number":100124,"Order":"#100125"}`)
	f.Add(`{"order_id":`)
	f.Fuzz(func(t *testing.T, args string) {
		got := appendOrders(nil, args)
		for i, o := range got {
			if !isOrderNumber(o) {
				t.Fatalf("%q is not an order number", o)
			}
			if slices.Contains(got[:i], o) {
				t.Fatalf("%q twice", o)
			}
		}
	})
}

// FuzzUserStateArgs feeds update_user_state arguments and a stored state:
// an accepted update always yields a JSON object within the cap that holds
// the key.
func FuzzUserStateArgs(f *testing.F) {
	f.Add(`{"key":"preferred_language","value":"de"}`, `{"vip":true}`)
	f.Add(`{"key":"last_agent","value":1}`, ``)
	f.Add(`{"key":"k","value":{"a":[1,2]}}`, `[1]`)
	f.Fuzz(func(t *testing.T, args, stored string) {
		key, value, msg := parseUserStateArgs(args)
		if msg != "" {
			return
		}
		if key == "" || len(key) > maxUserKeyLen || len(value) == 0 {
			t.Fatalf("accepted key %q value %q", key, value)
		}
		out, err := mergeUser(json.RawMessage(stored), func(m map[string]json.RawMessage) { m[key] = value })
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil || m == nil {
			t.Fatalf("merged state %q is not an object: %v", out, err)
		}
		if _, ok := m[key]; !ok || len(out) > MaxUserStateBytes {
			t.Fatalf("merged state %q lacks %q or is too big", out, key)
		}
	})
}

// FuzzVerifyWebhook feeds signature headers as a receiver gets them: only
// the right signature verifies, and nothing panics.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"run_id":"r"}`)
	f.Add(SignWebhook(testSecret, now, body))
	f.Add("t=1800000000,v1=zz")
	f.Add("t=,v1=,v1")
	f.Fuzz(func(t *testing.T, header string) {
		err := VerifyWebhook(testSecret, header, body, now, time.Minute)
		if err == nil && !containsString(splitSigs(strings.ToLower(header)), SignWebhook(testSecret, now, body)[len("t=1800000000,"):]) {
			t.Fatalf("%q verified", header)
		}
	})
}

// splitSigs returns the v1=… members of a header.
func splitSigs(header string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(header); i++ {
		if i == len(header) || header[i] == ',' {
			part := header[start:i]
			for len(part) > 0 && (part[0] == ' ' || part[0] == '\t') {
				part = part[1:]
			}
			out = append(out, part)
			start = i + 1
		}
	}
	return out
}
