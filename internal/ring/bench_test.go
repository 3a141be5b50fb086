package ring

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var failoverTTL = flag.Duration("ring.failover-ttl", time.Second, "heartbeat TTL of BenchmarkRedisFailover")

// BenchmarkOwner is the request-path lookup of a session's owner when it
// is cached: no I/O.
func BenchmarkOwner(b *testing.B) {
	be := newMemBackend()
	a := startRing(b, be, Config{ID: "a", TTL: time.Second})
	startRing(b, be, Config{ID: "b", TTL: time.Second})
	startRing(b, be, Config{ID: "c", TTL: time.Second})
	waitMembers(b, 3, a)
	const sessions = 4096
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprint("session-", i)
		a.Owner(context.Background(), "tenant", ids[i])
	}
	lookups := be.lookups.Load()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a.Owner(ctx, "tenant", ids[i%sessions])
		i++
	}
	if be.lookups.Load() != lookups {
		b.Fatal("lookups left the cache")
	}
}

// BenchmarkOwnerRedis is a lookup that asks Redis every time (cache off):
// the cost of the first turn a node sees of a session.
func BenchmarkOwnerRedis(b *testing.B) {
	rdb, prefix := openRedis(b)
	a := redisRing(b, rdb, prefix, "a", func(c *Config) { c.CacheSize = -1 })
	redisRing(b, rdb, prefix, "b")
	waitMembers(b, 2, a)
	ctx := context.Background()
	a.Owner(ctx, "tenant", "s")
	b.ReportAllocs()
	for b.Loop() {
		a.Owner(ctx, "tenant", "s")
	}
}

// BenchmarkPlace is placement by rendezvous hashing with the load bound,
// by number of members.
func BenchmarkPlace(b *testing.B) {
	for _, n := range []int{3, 16, 64} {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			r := &Ring{cfg: Config{LoadFactor: DefaultLoadFactor, Now: time.Now}}
			ms := make([]Member, n)
			for i := range ms {
				ms[i] = Member{ID: fmt.Sprint("n", i), URL: "http://x", Load: int64(i)}
			}
			r.view.Store(newView(ms, "n0", func(string) *atomic.Int64 { return new(atomic.Int64) }))
			b.ReportAllocs()
			for b.Loop() {
				r.Place("tenant", "session-1234")
			}
		})
	}
}

// BenchmarkSignVerify is the signature work of one forwarded request:
// sign and encode at the sender, parse and verify at the receiver.
func BenchmarkSignVerify(b *testing.B) {
	sg := newSigner([]byte(testSecret))
	body := []byte(`{"session_id":"conv-1","input":"Where is my order 100123?","stream":true}`)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(body)
		s := signature{node: "node-a", ts: 1767225600123}
		s.mac = sg.mac(s.node, "node-b", s.ts, "POST", "/v1/agents/support/runs", "tenant", "conv-1", &d)
		buf = appendSignature(buf[:0], &s)
		got, err := parseSignature(string(buf))
		if err != nil {
			b.Fatal(err)
		}
		d2 := sha256.Sum256(body)
		if sg.mac(got.node, "node-b", got.ts, "POST", "/v1/agents/support/runs", "tenant", "conv-1", &d2) != got.mac {
			b.Fatal("mismatch")
		}
	}
}

// BenchmarkForwardOverhead measures what a forward adds to a turn: the
// same request sent straight to its owner and through another node, over
// loopback HTTP, alternately. Reports the added microseconds per request.
func BenchmarkForwardOverhead(b *testing.B) {
	be := newMemBackend()
	a := newTestNode(b, be, "a", ForwarderConfig{})
	bn := newTestNode(b, be, "b", ForwarderConfig{})
	waitMembers(b, 2, a.runningRing, bn.runningRing)
	answer := strings.Repeat("x", 512)
	for _, n := range []*testNode{a, bn} {
		n.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, answer)
		}))
	}
	s := sessionOwnedBy(b, a.Ring, "t", "b")
	body := `{"session_id":"` + s + `","input":"Where is my order 100123?"}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	send := func(n *testNode) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, n.srv.URL+"/v1/turn?session="+s, strings.NewReader(body))
		req.Header.Set("X-Tenant", "t")
		req.Header.Set(HeaderIdempotencyKey, "bench") // the same headers either way
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	send(a)
	send(bn)
	var direct, forwarded time.Duration
	b.ReportAllocs()
	for b.Loop() {
		direct += send(bn)
		forwarded += send(a)
	}
	n := float64(b.N)
	b.ReportMetric(float64(direct.Microseconds())/n, "direct-µs")
	b.ReportMetric(float64(forwarded.Microseconds())/n, "forwarded-µs")
	b.ReportMetric(float64((forwarded-direct).Microseconds())/n, "overhead-µs")
}

// BenchmarkRedisFailover measures how long a crashed member's sessions
// stay owned by it: three members on Redis, one killed without leaving,
// until both others resolve its sessions to a live node. Run with
// -benchtime=5x; -ring.failover-ttl sets the TTL (default 1 s).
func BenchmarkRedisFailover(b *testing.B) {
	rdb, prefix := openRedis(b)
	var sinceKill, sinceBeat time.Duration
	k := 0
	for b.Loop() {
		p := fmt.Sprintf("%s%d:", prefix, k)
		k++
		ttl := func(c *Config) { c.TTL = *failoverTTL }
		x := redisRing(b, rdb, p, "a", ttl)
		y := redisRing(b, rdb, p, "b", ttl)
		z := redisRing(b, rdb, p, "c", ttl)
		waitMembers(b, 3, x, y, z)
		// Crash at different points of the heartbeat cycle.
		time.Sleep(time.Duration(k%5) * *failoverTTL / 15)
		f := measureFailover(b, x, y, z)
		sinceKill += f.sinceKill
		sinceBeat += f.sinceBeat
		x.stop()
		y.stop()
	}
	n := float64(b.N)
	b.ReportMetric(float64(sinceKill.Milliseconds())/n, "ms-after-crash")
	b.ReportMetric(float64(sinceBeat.Milliseconds())/n, "ms-after-last-beat")
	b.ReportMetric(float64(sinceBeat)/n/float64(*failoverTTL), "TTLs-after-last-beat")
}
