package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/queue"
)

// fakeMsg is a delivered Q2 message, for calling HandleMessage directly.
type fakeMsg struct {
	id         string
	data       []byte
	hdr        map[string]string
	deliveries int
}

func (m fakeMsg) ID() string               { return m.id }
func (m fakeMsg) Subject() string          { return SubjectEvents }
func (m fakeMsg) Data() []byte             { return m.data }
func (m fakeMsg) Header(key string) string { return m.hdr[key] }
func (m fakeMsg) Deliveries() int          { return m.deliveries }
func (m fakeMsg) InProgress() error        { return nil }

// recorder is a Publisher that keeps what it is given and fails while
// down is set: a queue the test can take away.
type recorder struct {
	mu   sync.Mutex
	down bool
	msgs []recorded
}

type recorded struct {
	subject, id string
	data        []byte
	hdr         map[string]string
}

func (r *recorder) Publish(_ context.Context, subject, id string, data []byte, hdr map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("nats: no servers available")
	}
	r.msgs = append(r.msgs, recorded{subject, id, data, hdr})
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, m := range r.msgs {
		out = append(out, m.id)
	}
	return out
}

func (r *recorder) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newService(t testing.TB, st Store, pub Publisher, edit func(*Config)) (*Service, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	cfg := Config{Store: st, Queue: pub, Now: clk.now, Logger: quiet}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	return s, clk
}

func TestNewValidates(t *testing.T) {
	st := openSQLite(t)
	tests := []struct {
		name string
		give Config
		want string
	}{
		{"no store", Config{Queue: &recorder{}}, "a store and a queue"},
		{"no queue", Config{Store: st}, "a store and a queue"},
		{"bad url", Config{Store: st, Queue: &recorder{}, WebhookURL: "ftp://x", WebhookSecret: []byte("s")}, "not http(s)"},
		{"no secret", Config{Store: st, Queue: &recorder{}, WebhookURL: "https://x"}, "needs a secret"},
		{"empty ack", Config{Store: st, Queue: &recorder{}, Acks: map[string]Ack{"en": {}}}, "English acknowledgements"},
	}
	for _, tt := range tests {
		_, err := New(tt.give)
		assert.ErrorContains(t, err, tt.want, tt.name)
	}
}

// TestLifecycle walks a ticket through the engine's and the people's
// calls: open (idempotent per session), messages while handed off,
// claim, resolve, and the agent's next handoff of the same session.
func TestLifecycle(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			pub := &recorder{}
			var resolved []Ticket
			s, clk := newService(t, b.open(t), pub, func(c *Config) {
				c.OnResolved = func(_ context.Context, tk Ticket) { resolved = append(resolved, tk) }
			})

			_, active, err := s.ActiveFor(ctx, "acme", "s1")
			require.NoError(t, err)
			assert.False(t, active)

			msgs := []llm.Message{
				{Role: llm.RoleSystem, Content: llm.Text("You are a support agent.")},
				{Role: llm.RoleUser, Content: llm.Text("where is my order 100123")},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}}}},
				{Role: llm.RoleTool, ToolCallID: "c1", Content: llm.Text(`{"status":"in_transit"}`)},
				{Role: llm.RoleAssistant, Content: llm.Text("It is in transit.")},
				{Role: llm.RoleUser, Content: llm.Text("I want a human")},
			}
			tk, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1", User: "u1", Agent: "support", Reason: "asked for a human",
				Priority: 3, Lang: "de", Summary: "Order 100123 question.", Facts: map[string][]string{"order_number": {"100123"}},
				Turns: CompactTurns(msgs, 0)})
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(tk.ID, "ho_"), tk.ID)
			assert.Equal(t, StatusOpen, tk.Status)
			assert.Equal(t, int64(1), tk.Version)
			assert.Equal(t, t0, tk.CreatedAt)
			assert.Equal(t, []Turn{
				{Role: "user", Content: "where is my order 100123"},
				{Role: "assistant", Content: `→ get_order_status({"order_id":"100123"})`},
				{Role: "tool", Content: `{"status":"in_transit"}`},
				{Role: "assistant", Content: "It is in transit."},
				{Role: "user", Content: "I want a human"},
			}, tk.Turns)

			again, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1", Reason: "again"})
			require.NoError(t, err)
			assert.Equal(t, tk.ID, again.ID, "one ticket per session")

			got, active, err := s.ActiveFor(ctx, "acme", "s1")
			require.NoError(t, err)
			assert.True(t, active)
			assert.Equal(t, tk, got)

			clk.add(time.Minute)
			ack, err := s.Append(ctx, tk.ID, "hallo? ist da jemand?")
			require.NoError(t, err)
			assert.Contains(t, ack, "Support-Team weitergegeben (Ticket "+tk.ID+")")

			claimed, err := s.Claim(ctx, tk.ID, "alice")
			require.NoError(t, err)
			assert.Equal(t, StatusClaimed, claimed.Status)
			assert.Equal(t, "alice", claimed.ClaimedBy)
			same, err := s.Claim(ctx, tk.ID, "alice")
			require.NoError(t, err)
			assert.Equal(t, claimed, same, "claiming again is a no-op")
			_, err = s.Claim(ctx, tk.ID, "bob")
			assert.ErrorIs(t, err, ErrConflict)
			_, err = s.Claim(ctx, tk.ID, " ")
			assert.ErrorIs(t, err, ErrInvalid)

			ack, err = s.Append(ctx, tk.ID, "danke")
			require.NoError(t, err)
			assert.Contains(t, ack, "bearbeitet Ihr Anliegen")

			clk.add(time.Minute)
			done, err := s.Resolve(ctx, tk.ID, "alice", "Parcel re-sent.")
			require.NoError(t, err)
			assert.Equal(t, StatusResolved, done.Status)
			assert.Equal(t, "Parcel re-sent.", done.Resolution)
			require.Len(t, resolved, 1)
			assert.Equal(t, done, resolved[0])
			assert.Len(t, done.Messages, 2)

			_, active, err = s.ActiveFor(ctx, "acme", "s1")
			require.NoError(t, err)
			assert.False(t, active, "the session is the agent's again")
			_, err = s.Append(ctx, tk.ID, "late")
			assert.ErrorIs(t, err, ErrConflict)
			_, err = s.Resolve(ctx, tk.ID, "alice", "")
			assert.ErrorIs(t, err, ErrConflict)
			_, err = s.Claim(ctx, tk.ID, "alice")
			assert.ErrorIs(t, err, ErrConflict)
			_, err = s.Append(ctx, "ho_nosuch", "x")
			assert.ErrorIs(t, err, ErrNotFound)

			next, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1", Reason: "again"})
			require.NoError(t, err)
			assert.NotEqual(t, tk.ID, next.ID, "a resolved session can be handed off again")

			// Every change was published once, in order, with its type.
			want := []string{tk.ID + ".1", tk.ID + ".2", tk.ID + ".3", tk.ID + ".4", tk.ID + ".5", next.ID + ".1"}
			assert.Equal(t, want, pub.ids())
			types := []string{}
			for _, m := range pub.msgs {
				var p Payload
				require.NoError(t, json.Unmarshal(m.data, &p))
				assert.Equal(t, m.id, p.ID)
				assert.Equal(t, p.Type, m.hdr["Event-Type"])
				types = append(types, p.Type)
			}
			assert.Equal(t, []string{EventCreated, EventMessage, EventClaimed, EventMessage, EventResolved, EventCreated}, types)
		})
	}
}

func TestOpenValidates(t *testing.T) {
	s, _ := newService(t, openSQLite(t), &recorder{}, nil)
	_, err := s.Open(context.Background(), Ticket{Tenant: "acme"})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = s.List(context.Background(), Filter{Status: "closed"})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestAckLanguages(t *testing.T) {
	s, _ := newService(t, openSQLite(t), &recorder{}, func(c *Config) {
		c.Acks = map[string]Ack{"fr": {Open: "Merci ({ticket}).", Claimed: "Merci, on s'en occupe ({ticket})."}}
	})
	tests := []struct {
		give Ticket
		want string
	}{
		{Ticket{ID: "ho_1", Lang: "fr", Status: StatusOpen}, "Merci (ho_1)."},
		{Ticket{ID: "ho_1", Lang: "fr", Status: StatusClaimed}, "Merci, on s'en occupe (ho_1)."},
		{Ticket{ID: "ho_1", Lang: "xx", Status: StatusOpen}, strings.ReplaceAll(DefaultAcks["en"].Open, "{ticket}", "ho_1")},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.Ack(tt.give))
	}
}

// TestSweepPublishesWhatWasNotPublished takes the queue away while
// tickets are filed: nothing is lost, and the sweep publishes the events
// once the queue is back.
func TestSweepPublishesWhatWasNotPublished(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	pub := &recorder{down: true}
	s, clk := newService(t, st, pub, func(c *Config) { c.SweepInterval = time.Second; c.RepublishAfter = time.Hour })
	tk, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1"})
	require.NoError(t, err, "a failed publish does not fail Open")
	_, err = s.Append(ctx, tk.ID, "hello?")
	require.NoError(t, err)
	assert.Empty(t, pub.ids())

	pub.setDown(false)
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "events younger than a sweep interval may be mid-publish")

	clk.add(2 * time.Second)
	pub.setDown(true)
	n, err = s.Sweep(ctx)
	assert.Error(t, err, "the queue is still down")
	assert.Zero(t, n)
	pub.setDown(false)
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{tk.ID + ".1", tk.ID + ".2"}, pub.ids())
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "published now")

	clk.add(2 * time.Hour)
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "published long ago and never delivered: again")
}

// TestRunSweeps checks that Run sweeps on its own and stops with its
// context.
func TestRunSweeps(t *testing.T) {
	st := openSQLite(t)
	pub := &recorder{down: true}
	s, err := New(Config{Store: st, Queue: pub, Logger: quiet, SweepInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	tk, err := s.Open(context.Background(), Ticket{Tenant: "acme", Session: "s1"})
	require.NoError(t, err)
	pub.setDown(false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { return len(pub.ids()) == 1 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []string{tk.ID + ".1"}, pub.ids())
}

// TestWebhookEndToEnd files tickets through a real (embedded) JetStream
// and checks the signed webhooks a receiver gets, including retries with
// back-off and a receiver that refuses.
func TestWebhookEndToEnd(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	q := openQueue(t, t.TempDir())
	secret := []byte("s3cret")
	recv := newReceiver(t, secret)
	s, err := New(Config{Store: st, Queue: q, WebhookURL: recv.srv.URL, WebhookSecret: secret, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, q.EnsureStream(ctx, s.StreamConfig("")))
	var deadMu sync.Mutex
	var dead []string
	cc := fastConsumer(s, "")
	cc.OnDeadLetter = func(m queue.Msg, err error) {
		deadMu.Lock()
		dead = append(dead, m.ID())
		deadMu.Unlock()
		s.DeadLetter(m, err)
	}
	runWorker(t, q, cc, s.HandleMessage)

	// Two failures, then success: three attempts, one effect.
	recv.fail(http.StatusServiceUnavailable, http.StatusBadGateway)
	tk, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1", Agent: "support", Reason: "budget", Priority: 2,
		Facts: map[string][]string{"order_number": {"100123"}}, Turns: []Turn{{Role: "user", Content: "help"}}})
	require.NoError(t, err)
	recv.wait(t, tk.ID+".1", 10*time.Second)
	posts := recv.snapshot()
	require.Len(t, posts, 3)
	assert.Equal(t, []string{"1", "2", "3"}, []string{posts[0].Attempt, posts[1].Attempt, posts[2].Attempt})
	assert.Equal(t, EventCreated, posts[2].Event)
	var p Payload
	require.NoError(t, json.Unmarshal(recv.body(tk.ID+".1"), &p))
	assert.Equal(t, tk, p.Ticket)
	require.Eventually(t, func() bool {
		ev, err := st.Event(ctx, tk.ID+".1")
		return err == nil && ev.DeliveredAt != nil
	}, 5*time.Second, 10*time.Millisecond)

	// A message: the webhook carries it.
	_, err = s.Append(ctx, tk.ID, "anyone there?")
	require.NoError(t, err)
	recv.wait(t, tk.ID+".2", 10*time.Second)
	var pm Payload
	require.NoError(t, json.Unmarshal(recv.body(tk.ID+".2"), &pm))
	assert.Equal(t, EventMessage, pm.Type)
	require.NotNil(t, pm.Message)
	assert.Equal(t, "anyone there?", pm.Message.Content)
	assert.Nil(t, pm.Ticket.Turns, "only handoff.created carries the turns")

	// A refusal gives up at once; a receiver that keeps failing is
	// given up after MaxDeliver attempts. Both are recorded.
	failed := func(id string) bool {
		ev, err := st.Event(ctx, id)
		return err == nil && ev.Failed != ""
	}
	recv.fail(http.StatusGone)
	claimed, err := s.Claim(ctx, tk.ID, "alice")
	require.NoError(t, err)
	claimEv := eventID(tk.ID, claimed.Version)
	require.Eventually(t, func() bool { return failed(claimEv) }, 10*time.Second, 20*time.Millisecond)
	recv.fail(500, 500, 500, 500)
	_, err = s.Resolve(ctx, tk.ID, "alice", "done")
	require.NoError(t, err)
	resolveEv := eventID(tk.ID, claimed.Version+1)
	require.Eventually(t, func() bool { return failed(resolveEv) }, 10*time.Second, 20*time.Millisecond)
	deadMu.Lock()
	assert.Equal(t, []string{resolveEv}, dead)
	deadMu.Unlock()
	a, err := st.Event(ctx, claimEv)
	require.NoError(t, err)
	assert.Contains(t, a.Failed, "410")
	assert.Equal(t, []string{tk.ID + ".1", tk.ID + ".2"}, recv.effectIDs())
}

// TestHandleMessageIdempotent delivers the same message twice, as
// JetStream may: one post.
func TestHandleMessageIdempotent(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	pub := &recorder{}
	secret := []byte("s")
	recv := newReceiver(t, secret)
	s, _ := newService(t, st, pub, func(c *Config) { c.WebhookURL, c.WebhookSecret = recv.srv.URL, secret; c.Now = time.Now })
	tk, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s1"})
	require.NoError(t, err)
	m := fakeMsg{id: tk.ID + ".1", data: pub.msgs[0].data, deliveries: 1}
	require.NoError(t, s.HandleMessage(ctx, m))
	m.deliveries = 2
	require.NoError(t, s.HandleMessage(ctx, m))
	assert.Len(t, recv.snapshot(), 1)

	// An event another store holds is delivered rather than lost.
	other := fakeMsg{id: "ho_elsewhere.1", data: []byte(`{"id":"ho_elsewhere.1"}`), deliveries: 1, hdr: map[string]string{"Event-Type": EventCreated}}
	require.NoError(t, s.HandleMessage(ctx, other))
	assert.ElementsMatch(t, []string{"ho_elsewhere.1", tk.ID + ".1"}, recv.effectIDs())

	// Without a webhook, events are recorded as delivered, not posted.
	quietSvc, _ := newService(t, st, pub, nil)
	tk2, err := quietSvc.Open(ctx, Ticket{Tenant: "acme", Session: "s2"})
	require.NoError(t, err)
	require.NoError(t, quietSvc.HandleMessage(ctx, fakeMsg{id: tk2.ID + ".1", deliveries: 1}))
	ev, err := st.Event(ctx, tk2.ID+".1")
	require.NoError(t, err)
	assert.NotNil(t, ev.DeliveredAt)
}

func TestCompactTurns(t *testing.T) {
	long := strings.Repeat("é", MaxTurnChars+10)
	msgs := []llm.Message{{Role: llm.RoleDeveloper, Content: llm.Text("rules")}}
	for i := range MaxTurns + 5 {
		msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: llm.Text(strings.Repeat("x", i+1))})
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: llm.Text(long)}, llm.Message{Role: llm.RoleAssistant})
	got := CompactTurns(msgs, 0)
	require.Len(t, got, MaxTurns)
	last := got[len(got)-1]
	assert.Equal(t, "assistant", last.Role)
	assert.Equal(t, MaxTurnChars, len([]rune(last.Content)))
	assert.True(t, strings.HasSuffix(last.Content, "…"))
	assert.Equal(t, strings.Repeat("x", 7), got[0].Content, "the newest turns are kept")
	assert.Len(t, CompactTurns(msgs, 3), 3)
	assert.Empty(t, CompactTurns(nil, 3))
}

func TestSignVerify(t *testing.T) {
	secret := []byte("k")
	body := []byte(`{"id":"ho_1.1"}`)
	at := time.Unix(1_800_000_000, 0)
	h := Sign(secret, at, body)
	assert.Regexp(t, `^t=1800000000,v1=[0-9a-f]{64}$`, h)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", h, body, at.Add(time.Minute), true},
		{"second signature", "t=1800000000,v1=00," + h[len("t=1800000000,"):], body, at, true},
		{"other body", h, []byte(`{}`), at, false},
		{"too old", h, body, at.Add(10 * time.Minute), false},
		{"malformed", "v1=abc", body, at, false},
		{"no signature", "t=1800000000", body, at, false},
	}
	for _, tt := range tests {
		err := Verify(secret, tt.header, tt.body, tt.now, 5*time.Minute)
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.ErrorIs(t, err, ErrBadSignature, tt.name)
		}
	}
}
