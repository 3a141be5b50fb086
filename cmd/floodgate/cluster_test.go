package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/load"
	"github.com/floodgate-dev/floodgate/internal/shop"
)

// The drill's knobs; bench/cluster.sh runs it longer and bigger.
var (
	drillConversations = flag.Int("drill.conversations", 30, "cluster drill: conversations (virtual users) at once")
	drillTurns         = flag.Int("drill.turns", 6, "cluster drill: turns per conversation")
	drillThink         = flag.Duration("drill.think", 100*time.Millisecond, "cluster drill: a user's pause between turns")
	drillKillAt        = flag.Float64("drill.kill-at", 0.35, "cluster drill: kill a node once this share of all turns is served")
	drillTimeScale     = flag.Float64("drill.timescale", 0.05, "cluster drill: the sims' time scale (1 = real model speeds)")
	drillHeartbeat     = flag.Duration("drill.heartbeat", 3*time.Second, "cluster drill: cluster.heartbeat_ttl")
	drillOut           = flag.String("drill.out", "", "cluster drill: write the figures as JSON to this file")
)

// drillNodeEnv makes the test binary, started by the drill, run `floodgate`
// with its arguments instead of the tests: each node is a process of its
// own, as in production, that the drill can kill -9.
const drillNodeEnv = "FLOODGATE_DRILL_NODE"

func init() {
	if os.Getenv(drillNodeEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floodgate:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestNodeID(t *testing.T) {
	tests := []struct {
		give, wantPrefix string
	}{
		{give: "http://127.0.0.2:8080", wantPrefix: "127.0.0.2:8080-"},
		{give: "https://node-a.internal", wantPrefix: "node-a.internal-"},
		{give: "http://[::1]:8080", wantPrefix: "_::1_:8080-"},
	}
	for _, tt := range tests {
		id, err := nodeID(tt.give)
		require.NoError(t, err, tt.give)
		assert.True(t, strings.HasPrefix(id, tt.wantPrefix), "%s: %s", tt.give, id)
		assert.Len(t, id, len(tt.wantPrefix)+8)
	}
	a, _ := nodeID("http://127.0.0.1:1")
	b, _ := nodeID("http://127.0.0.1:1")
	assert.NotEqual(t, a, b, "unique per process start")
	_, err := nodeID("127.0.0.1:1")
	assert.Error(t, err)
}

// drillNode is one `floodgate serve` process of the drill.
type drillNode struct {
	addr string // host:port it serves and advertises
	base string // http://addr
	dir  string // its working directory and log
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// turnRecord is one turn as the client saw it.
type turnRecord struct {
	runID    string
	node     string    // X-Floodgate-Node of the answer that served it
	start    time.Time // first attempt
	end      time.Time // served
	attempts int
	served   bool
}

// drillFigures are what the drill reports.
type drillFigures struct {
	Conversations, Turns int
	TurnsServed          int
	TurnsLost            int // not in the session's history, or never served
	Duplicates           int // in the history twice
	OutOfOrder           int // conversations whose history is not in the order sent
	SplitHistories       int // conversations two nodes see differently
	OwnerChanges         int // conversations of a surviving owner served elsewhere
	Retries              int // attempts beyond the first
	Fallbacks            int // dead node's conversations served once elsewhere before settling on their new owner
	Victim               string
	VictimConversations  int
	InFlightAtKill       int     // of the victim's conversations
	RingDropMS           float64 // kill → the survivors no longer list the victim
	FirstServedMS        float64 // kill → first turn of a victim conversation served again
	ServedAgainMedianMS  float64 // per victim conversation: from the kill (or its next turn's start) until served again
	ServedAgainMaxMS     float64
	AllServedAgainMS     float64 // kill → every victim conversation served again (user pauses included)
	TurnP50MS, TurnP99MS float64 // served turns, first attempt to answer
}

// TestClusterDrill is issue 5's bar for sticky routing: three `floodgate
// serve` processes (on 127.0.0.1, .2 and .3 when the system allows)
// share Redis and a NATS server; conversations go to random nodes and
// must be served by their owner; one node is killed with SIGKILL under
// load; every conversation must go on with all its turns, in order, once,
// in one history. It reports the turns lost and how long the dead node's
// sessions took to be served again.
func TestClusterDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("the cluster drill runs three processes for tens of seconds")
	}
	redisURL := requireService(t, "127.0.0.1:6379", "Redis", "redis://127.0.0.1:6379/0")
	ctx := context.Background()
	token := "drill" + hex.EncodeToString(randBytes(5))
	key := "fg-" + token
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() {
		deleteKeys(t, rdb, "*"+token+"*")
		rdb.Close()
	})

	natsURL := startNATS(t)
	shopURL := startShop(t)
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "bench", "cluster.yaml"))
	require.NoError(t, err)
	vars := map[string]string{
		"SHOP_URL": shopURL, "FG_TENANT": token, "FG_KEY_HASH": gateway.HashKey(key),
		"FG_REDIS_URL": redisURL, "FG_NATS_URL": natsURL, "FG_PREFIX": "fg-" + token + ":",
		"FG_SECRET": hex.EncodeToString(randBytes(16)), "FG_HEARTBEAT_TTL": drillHeartbeat.String(),
		"FG_TIME_SCALE": strconv.FormatFloat(*drillTimeScale, 'f', -1, 64),
	}
	hosts := loopbackHosts(t)
	nodes := make([]*drillNode, 3)
	for i := range nodes {
		nodes[i] = startDrillNode(t, tmpl, vars, hosts[i])
	}
	for _, n := range nodes {
		require.NoError(t, waitMembers(n, 3, 60*time.Second))
	}

	// The load: each conversation a user who sends its turns one after
	// another to random nodes, pausing between them, and retries a turn
	// that failed (same run id) on another node, as a client behind a
	// load balancer would.
	prompts := drillPrompts(*drillConversations * *drillTurns)
	client := drillClient()
	defer client.CloseIdleConnections()
	records := make([][]turnRecord, *drillConversations)
	var (
		served   atomic.Int64
		killOnce sync.Once
		killed   = make(chan struct{})
		killAt   time.Time
		victim   *drillNode
		owners   sync.Map // conversation → the node of its last served turn
	)
	total := *drillConversations * *drillTurns
	kill := func() {
		// The victim is the node owning the most conversations.
		count := map[string]int{}
		owners.Range(func(_, v any) bool { count[v.(string)]++; return true })
		best := -1
		for _, n := range nodes {
			if c := count[n.addr]; c > best {
				victim, best = n, c
			}
		}
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Errorf("kill %s: %v", victim.addr, err)
		}
		killAt = time.Now()
		close(killed)
	}
	var users sync.WaitGroup
	for c := range *drillConversations {
		users.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(c), 7))
			session := fmt.Sprintf("%s-c%03d", token, c)
			down := map[string]bool{} // nodes this client found dead
			for i := range *drillTurns {
				rec := turnRecord{runID: fmt.Sprintf("%s-t%02d", session, i+1), start: time.Now()}
				for time.Since(rec.start) < 90*time.Second {
					n := pickNode(rng, nodes, down)
					rec.attempts++
					node, err := sendTurn(ctx, client, n.base, key, session, rec.runID, prompts[c**drillTurns+i], i%3 == 2)
					if err == nil {
						rec.node, rec.end, rec.served = node, time.Now(), true
						break
					}
					// Like a load balancer's passive health check: a node
					// that refuses connections is dead.
					if errors.Is(err, syscall.ECONNREFUSED) {
						down[n.base] = true
					}
					time.Sleep(50 * time.Millisecond)
				}
				records[c] = append(records[c], rec)
				if !rec.served {
					t.Errorf("conversation %d turn %d never served", c, i+1)
					return
				}
				owners.Store(c, rec.node)
				if served.Add(1) == int64(float64(total)**drillKillAt) {
					killOnce.Do(kill)
				}
				time.Sleep(*drillThink)
			}
		})
	}
	// The survivors' view of the ring, sampled from the kill on.
	var ringDrop time.Duration
	finished := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-killed:
		case <-finished:
			return
		}
		for _, n := range nodes {
			if n != victim {
				if err := waitMembers(n, 2, 30*time.Second); err != nil {
					t.Error(err)
				}
			}
		}
		ringDrop = time.Since(killAt)
	}()
	users.Wait()
	close(finished)
	<-watcher
	require.NotNil(t, victim, "the kill happened")
	<-victim.done

	f := drillFigures{Conversations: *drillConversations, Turns: total, Victim: victim.addr,
		RingDropMS: ms(ringDrop)}
	survivors := slices.DeleteFunc(slices.Clone(nodes), func(n *drillNode) bool { return n == victim })
	var latencies, againAll []time.Duration
	var firstAgain, allAgain time.Duration
	for c, recs := range records {
		session := fmt.Sprintf("%s-c%03d", token, c)
		var want []string
		for _, r := range recs {
			f.Retries += r.attempts - 1
			if r.served {
				f.TurnsServed++
				want = append(want, r.runID)
				latencies = append(latencies, r.end.Sub(r.start))
			}
		}
		f.TurnsLost += *drillTurns - len(want)

		// One history, the same from every survivor, with every turn
		// once and in order.
		got := sessionRunIDs(t, client, survivors[0].base, key, session)
		if other := sessionRunIDs(t, client, survivors[1].base, key, session); !slices.Equal(got, other) {
			f.SplitHistories++
			t.Errorf("%s: %v from one node, %v from another", session, got, other)
		}
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for _, id := range want {
			switch seen[id] {
			case 0:
				f.TurnsLost++
				t.Errorf("%s: turn %s was answered but is not in the history", session, id)
			case 1:
			default:
				f.Duplicates += seen[id] - 1
				t.Errorf("%s: turn %s is in the history %d times", session, id, seen[id])
			}
		}
		if !slices.Equal(got, want) {
			f.OutOfOrder++
			t.Errorf("%s: history %v, turns sent %v", session, got, want)
		}

		// Stickiness: before the kill one node served the conversation;
		// after it, the same node if it lives, else one new owner (the
		// turn in flight at the kill may have been served where it was
		// retried: a fallback). A turn the dead node served was served
		// before it died, whenever its answer was read.
		var before, after []string
		inFlight := false
		var again time.Duration = -1
		for _, r := range recs {
			switch {
			case !r.served:
				continue
			case r.end.Before(killAt) || r.node == f.Victim:
				before = append(before, r.node)
				continue
			}
			after = append(after, r.node)
			if again >= 0 {
				continue
			}
			inFlight = r.start.Before(killAt)
			from := killAt
			if r.start.After(killAt) {
				from = r.start
			}
			again = r.end.Sub(from)
			if d := r.end.Sub(killAt); firstAgain == 0 || d < firstAgain {
				firstAgain = d
			}
			allAgain = max(allAgain, r.end.Sub(killAt))
		}
		owner := ""
		if len(before) > 0 {
			owner = before[0]
			assert.Len(t, slices.Compact(slices.Clone(before)), 1, "%s: served by %v before the kill", session, before)
		}
		if owner != "" && owner != f.Victim {
			if slices.ContainsFunc(after, func(n string) bool { return n != owner }) {
				f.OwnerChanges++
				t.Errorf("%s: owner %s alive, but served by %v after the kill", session, owner, after)
			}
			continue
		}
		if owner == f.Victim {
			f.VictimConversations++
			if inFlight {
				f.InFlightAtKill++
			}
			if again >= 0 {
				againAll = append(againAll, again)
			}
		}
		assert.NotContains(t, after, f.Victim, "%s: served by the dead node after the kill", session)
		if len(after) > 1 {
			if after[0] != after[1] {
				f.Fallbacks++
			}
			assert.Len(t, slices.Compact(slices.Clone(after[1:])), 1, "%s: after the kill served by %v", session, after)
		}
	}
	f.FirstServedMS, f.AllServedAgainMS = ms(firstAgain), ms(allAgain)
	f.ServedAgainMedianMS, f.ServedAgainMaxMS = ms(percentile(againAll, 0.5)), ms(percentile(againAll, 1))
	f.TurnP50MS, f.TurnP99MS = ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99))

	t.Logf("drill: %d conversations × %d turns through 3 nodes (%s), sims at time scale %v, heartbeat TTL %v",
		f.Conversations, *drillTurns, strings.Join(hosts, ", "), *drillTimeScale, *drillHeartbeat)
	t.Logf("drill: turns served %d/%d, lost %d, duplicated %d, out of order %d, split histories %d, retries %d",
		f.TurnsServed, f.Turns, f.TurnsLost, f.Duplicates, f.OutOfOrder, f.SplitHistories, f.Retries)
	t.Logf("drill: killed %s (-9) owning %d conversations, %d with a turn in flight; survivors dropped it after %.0f ms",
		f.Victim, f.VictimConversations, f.InFlightAtKill, f.RingDropMS)
	t.Logf("drill: its sessions served again: first after %.0f ms; per session median %.0f ms, max %.0f ms; all after %.0f ms (user pauses included); fallbacks %d",
		f.FirstServedMS, f.ServedAgainMedianMS, f.ServedAgainMaxMS, f.AllServedAgainMS, f.Fallbacks)
	t.Logf("drill: owner changes of live owners %d; turn latency p50 %.0f ms, p99 %.0f ms", f.OwnerChanges, f.TurnP50MS, f.TurnP99MS)
	if *drillOut != "" {
		b, err := json.MarshalIndent(f, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(*drillOut, b, 0o644))
	}
	assert.Zero(t, f.TurnsLost, "turns lost")
	assert.Positive(t, f.VictimConversations, "the dead node owned conversations")

	// A graceful stop leaves the ring before draining: the last node
	// drops the first at once, not a heartbeat TTL later.
	stopped := time.Now()
	require.NoError(t, survivors[0].cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, waitMembers(survivors[1], 1, *drillHeartbeat/2), "a leaving node is dropped before its record would expire")
	t.Logf("drill: a node stopped with SIGTERM left the ring after %.0f ms", ms(time.Since(stopped)))
	require.NoError(t, survivors[1].cmd.Process.Signal(syscall.SIGTERM))
	for _, n := range survivors {
		select {
		case <-n.done:
			assert.NoError(t, n.err, "%s exits cleanly; log %s", n.addr, filepath.Join(n.dir, "serve.log"))
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop", n.addr)
		}
	}
}

// loopbackHosts returns three loopback addresses to serve on: 127.0.0.1,
// .2 and .3 where the system routes all of 127/8 to lo (Linux), else
// 127.0.0.1 three times.
func loopbackHosts(t *testing.T) []string {
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	for _, h := range hosts[1:] {
		ln, err := net.Listen("tcp", h+":0")
		if err != nil {
			t.Logf("cannot listen on %s (%v): all nodes on 127.0.0.1", h, err)
			return []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
		}
		ln.Close()
	}
	return hosts
}

// startDrillNode writes the node's configuration and starts it.
func startDrillNode(t *testing.T, tmpl []byte, vars map[string]string, host string) *drillNode {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // the node listens on it in a moment
	n := &drillNode{addr: addr, base: "http://" + addr, dir: t.TempDir(), done: make(chan struct{})}
	conf := os.Expand(string(tmpl), func(k string) string {
		if k == "FG_ADVERTISE_URL" {
			return n.base
		}
		v, ok := vars[k]
		if !ok {
			t.Fatalf("bench/cluster.yaml: no value for ${%s}", k)
		}
		return v
	})
	path := filepath.Join(n.dir, "floodgate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	logf, err := os.Create(filepath.Join(n.dir, "serve.log"))
	require.NoError(t, err)
	n.cmd = exec.Command(os.Args[0], "serve", "--config", path, "--listen", addr)
	n.cmd.Env = append(os.Environ(), drillNodeEnv+"=1")
	n.cmd.Dir = n.dir
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	require.NoError(t, n.cmd.Start())
	go func() {
		n.err = n.cmd.Wait()
		logf.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(n.dir, "serve.log"))
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log tail:\n%s", addr, b)
		}
	})
	return n
}

// drillClient is the drill's HTTP client; close its idle connections
// when done.
func drillClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
}

// waitMembers waits until n's ring lists want members (its
// floodgate_ring_members gauge).
func waitMembers(n *drillNode, want int, within time.Duration) error {
	c := drillClient()
	defer c.CloseIdleConnections()
	line := []byte("floodgate_ring_members " + strconv.Itoa(want) + "\n")
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			return fmt.Errorf("%s exited: %v", n.addr, n.err)
		default:
		}
		if resp, err := c.Get(n.base + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, line) {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s: the ring did not reach %d members within %v", n.addr, want, within)
}

// pickNode picks a random node among those the client has not found
// dead.
func pickNode(rng *mrand.Rand, nodes []*drillNode, down map[string]bool) *drillNode {
	live := make([]*drillNode, 0, len(nodes))
	for _, n := range nodes {
		if !down[n.base] {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		live = nodes
	}
	return live[rng.IntN(len(live))]
}

// sendTurn posts one turn through the run API and returns the node that
// served it (host:port); an error for anything but a stored turn.
func sendTurn(ctx context.Context, c *http.Client, base, key, session, runID, input string, stream bool) (string, error) {
	body, _ := json.Marshal(map[string]any{"session_id": session, "user_id": "u-" + session, "input": input,
		"run_id": runID, "stream": stream})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/agents/support/runs", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	node, _, _ := strings.Cut(resp.Header.Get(gateway.HeaderNode), "-")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var status string
	if stream {
		status, err = streamStatus(resp.Body)
	} else {
		var res struct{ Status string }
		err = json.NewDecoder(resp.Body).Decode(&res)
		status = res.Status
	}
	if err != nil {
		return "", err
	}
	switch status {
	case "completed", "partial", "handed_off":
		return node, nil
	}
	return "", fmt.Errorf("run %s", status)
}

// streamStatus reads a run's event stream to its run.completed event and
// returns the run's status.
func streamStatus(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "run.completed":
			var res struct{ Status string }
			if err := json.Unmarshal([]byte(data), &res); err != nil {
				return "", err
			}
			return res.Status, nil
		case "error":
			return "", fmt.Errorf("stream error: %s", data)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", io.ErrUnexpectedEOF
}

// sessionRunIDs returns the run ids of a session's turns, in order.
func sessionRunIDs(t *testing.T, c *http.Client, base, key, session string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/sessions/"+session, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, session)
	var v struct {
		Turns []struct {
			RunID string `json:"run_id"`
			Seq   int64  `json:"seq"`
		} `json:"turns"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	ids := make([]string, len(v.Turns))
	for i, turn := range v.Turns {
		assert.EqualValues(t, i+1, turn.Seq, "%s: turn seqs run 1, 2, …", session)
		ids[i] = turn.RunID
	}
	return ids
}

// drillPrompts returns n customer messages of `floodgate load`'s default
// prompt set, as the run API takes them.
func drillPrompts(n int) []string {
	ps := load.NewPromptSet(load.PromptOptions{RunAPI: true, Seed: 5, Count: n})
	out := make([]string, n)
	for i := range out {
		var b struct{ Input string }
		_ = json.Unmarshal(ps.Next(0, uint64(i)).Body, &b)
		out[i] = b.Input
	}
	return out
}

// startNATS runs a NATS server with JetStream for the drill's nodes to
// share. A server of the drill's own, rather than the machine's: Q2's
// streams have fixed names and subjects, which would collide with other
// packages' tests on a shared server.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	require.True(t, ns.ReadyForConnections(10*time.Second), "NATS server ready")
	return ns.ClientURL()
}

// startShop serves the demo shop whose tools the drill's agents call.
func startShop(t *testing.T) string {
	t.Helper()
	s, err := shop.Open(context.Background(), shop.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return srv.URL
}

// deleteKeys deletes the keys matching pattern.
func deleteKeys(t *testing.T, rdb *goredis.Client, pattern string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("clean-up: scan %s: %v", pattern, err)
		return
	}
	for chunk := range slices.Chunk(keys, 500) {
		rdb.Del(ctx, chunk...)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the q-quantile (0–1) of ds, 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
