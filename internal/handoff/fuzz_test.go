package handoff

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary signature headers and bodies to Verify: it
// never panics, and accepts only what Sign produced for that body.
func FuzzVerify(f *testing.F) {
	secret := []byte("k")
	at := time.Unix(1_800_000_000, 0)
	f.Add(Sign(secret, at, []byte(`{"id":"ho_1.1"}`)), []byte(`{"id":"ho_1.1"}`))
	f.Add("t=,v1=", []byte(""))
	f.Add("t=1800000000,v1=zz,v1=", []byte("x"))
	f.Add(" t = 1 , v1 = 00 ", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if Verify(secret, header, body, at, 5*time.Minute) != nil {
			return
		}
		// Accepted: the header must hold this body's MAC for its time.
		var ts string
		for _, part := range strings.Split(header, ",") {
			if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "t" {
				ts = v
			}
		}
		if !strings.Contains(strings.ToLower(header), hex.EncodeToString(testMAC(secret, ts, body))) {
			t.Fatalf("accepted %q for %q", header, body)
		}
	})
}

// FuzzAdminAPI feeds arbitrary bodies and queries to the admin API: it
// answers every request with a 2xx or a 4xx in OpenAI's shape, never a
// 5xx or a panic. Seeds are in testdata/admin.
func FuzzAdminAPI(f *testing.F) {
	files, err := filepath.Glob("testdata/admin/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/admin: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("claim", "status=open", string(b))
		f.Add("resolve", "limit=2&tenant=acme", string(b))
	}
	st := openSQLite(f)
	s, _ := newService(f, st, &recorder{}, nil)
	tk, err := s.Open(context.Background(), Ticket{Tenant: "acme", Session: "s1"})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, action, query, body string) {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/admin/handoffs?" + query, ""},
			{"POST", "/admin/handoffs/" + tk.ID + "/" + action, body},
		} {
			req, err := http.NewRequest(r.method, "http://x"+r.path, strings.NewReader(r.body))
			if err != nil {
				continue // not a request a client could send
			}
			resp := call(h, req.Method, req.URL.RequestURI(), r.body)
			if resp.code >= 500 {
				t.Fatalf("%s %s %q: %d %s", r.method, r.path, r.body, resp.code, resp.body)
			}
			if resp.code >= 400 {
				errorOf(t, resp)
			}
		}
	})
}

// testMAC is the v1 MAC of the signature scheme, written out here so that
// the fuzzer checks Verify against the scheme rather than against itself.
func testMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}
