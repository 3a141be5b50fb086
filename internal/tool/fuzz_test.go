package tool

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzBuildURL checks that no argument value escapes its place in an HTTP
// tool's URL: a path value stays one segment (never "." or ".."), a query
// value stays one value, and both read back unchanged.
func FuzzBuildURL(f *testing.F) {
	for _, s := range [][2]string{{"100001", "x"}, {"../admin", "a&b=c"}, {"..", "#frag"}, {".", "?q=1"}, {"%2e%2e", "%"}, {"a/b?c#d", " "}} {
		f.Add(s[0], s[1])
	}
	tl, err := NewHTTP(HTTPConfig{Name: "t", URL: "http://h/orders/{id}/items?fixed=1&q={q}",
		Parameters: json.RawMessage(`{"type":"object"}`)})
	if err != nil {
		f.Fatal(err)
	}
	ht := tl.(*httpTool)
	f.Fuzz(func(t *testing.T, id, q string) {
		if !utf8.ValidString(id) || !utf8.ValidString(q) {
			return // arguments are decoded JSON strings: always valid UTF-8
		}
		target, body, err := ht.build(map[string]any{"id": id, "q": q, "extra": id + q})
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		if body != nil {
			t.Fatal("a GET has no body")
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("parse %q: %v", target, err)
		}
		if u.Host != "h" || u.Fragment != "" {
			t.Fatalf("%q left its host or grew a fragment", target)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 4 || segs[1] != "orders" || segs[3] != "items" || segs[2] == "." || segs[2] == ".." {
			t.Fatalf("id %q broke the path: %q", id, u.EscapedPath())
		}
		if got, err := url.PathUnescape(segs[2]); err != nil || got != id {
			t.Fatalf("id %q reads back as %q (%v)", id, got, err)
		}
		qs := u.Query()
		if qs.Get("fixed") != "1" || qs.Get("q") != q || qs.Get("extra") != id+q || len(qs) != 3 {
			t.Fatalf("query of %q = %v", target, qs)
		}
	})
}
