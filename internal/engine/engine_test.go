package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

func TestNewValidates(t *testing.T) {
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	reg := newRegistry(t, "http://127.0.0.1:1")
	base := func() Config {
		return Config{Agents: demoAgents(), Model: unusedModel{}, Sessions: st, Tools: reg}
	}
	tests := []struct {
		name string
		give func(*Config)
		want string
	}{
		{name: "valid", give: func(*Config) {}},
		{name: "no agents", give: func(c *Config) { c.Agents = nil }, want: "no agents"},
		{name: "no model", give: func(c *Config) { c.Model = nil }, want: "Model and Sessions are required"},
		{name: "unknown tool", give: func(c *Config) { c.Agents[0].Tools = append(c.Agents[0].Tools, "teleport") }, want: `unknown tool "teleport"`},
		{name: "unknown handoff", give: func(c *Config) { c.Agents[1].Handoffs = []string{"billing"} }, want: `unknown handoff target "billing"`},
		{name: "self handoff", give: func(c *Config) { c.Agents[1].Handoffs = []string{"after_sales"} }, want: "hands off to itself"},
		{name: "duplicate agent", give: func(c *Config) { c.Agents[1].Name = "support" }, want: "defined twice"},
		{name: "agent without model", give: func(c *Config) { c.Agents[2].Model = "" }, want: "no model"},
		{name: "bad agent name", give: func(c *Config) { c.Agents[2].Name = "re commend" }, want: "invalid name"},
		{name: "transfer tool listed", give: func(c *Config) { c.Agents[2].Tools = []string{"transfer_to_support"} }, want: "come from handoffs"},
		{name: "negative limit", give: func(c *Config) { c.Agents[0].Limits.MaxToolCalls = -1 }, want: "negative limit"},
		{name: "user state without a user store", give: func(c *Config) { c.Users = nil; c.Sessions = sessionsOnly{st, st} }, want: "needs a user store"},
		{name: "mcp without registry", give: func(c *Config) {
			c.Tools = nil
			c.Agents = []Agent{{Name: "a", Model: "m", Tools: []string{"mcp:docs"}}}
		}, want: "no tool registry"},
		{name: "tools without registry", give: func(c *Config) { c.Tools = nil }, want: "unknown tool"},
		{name: "negative setting", give: func(c *Config) { c.LeaseTTL = -time.Second }, want: "negative setting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.give(&cfg)
			e, err := New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, []string{"after_sales", "recommend", "support"}, e.Agents())
				return
			}
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// sessionsOnly hides every capability but Sessions and Leases.
type sessionsOnly struct {
	Sessions
	Leases
}

func TestNewDefaults(t *testing.T) {
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "m", Handoffs: []string{"b"}}, {Name: "b", Model: "m", Handoffs: []string{"a"}}},
		Model: unusedModel{}, Sessions: st})
	require.NoError(t, err)
	a := e.agents["a"]
	assert.Equal(t, Limits{MaxToolCalls: 8, MaxTurns: 10, Deadline: 60 * time.Second}, a.Limits)
	assert.Equal(t, 10, a.Context.RecentTurns)
	assert.Equal(t, "m", a.SimpleModel)
	assert.Equal(t, map[string]bool{"b": true}, a.reach, "a cycle through handoffs is allowed")
	assert.Equal(t, "transfer_to_b", a.handoffDecls[0].Function.Name)
	assert.Contains(t, a.system, tool.DataNotice)
	assert.Equal(t, DefaultLeaseTTL, e.leaseTTL)
	assert.Equal(t, DefaultLeaseWait, e.leaseWait)
	assert.NotNil(t, e.users, "the store's user state is found")
	assert.NotNil(t, e.runs, "the store's run records are found")
}

func TestRunSubject(t *testing.T) {
	tests := []struct{ give, want string }{
		{give: "acme", want: "runs.acme"},
		{give: "Acme_Corp-2", want: "runs.Acme_Corp-2"},
		{give: "a.b", want: "runs.a%2Eb"},
		{give: "x>*", want: "runs.x%3E%2A"},
		{give: "acme corp", want: "runs.acme%20corp"},
		{give: "100%", want: "runs.100%25"},
		{give: "", want: "runs."},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, RunSubject(tt.give))
		})
	}
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"run_id":"r"}`)
	good := SignWebhook(testSecret, now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   bool
	}{
		{name: "valid", header: good, body: body, at: now, want: true},
		{name: "within tolerance", header: good, body: body, at: now.Add(4 * time.Minute), want: true},
		{name: "stale", header: good, body: body, at: now.Add(6 * time.Minute)},
		{name: "tampered body", header: good, body: []byte(`{"run_id":"x"}`), at: now},
		{name: "other secret", header: SignWebhook([]byte("other"), now, body), body: body, at: now},
		{name: "second signature matches", header: good + ",v1=00ff", body: body, at: now, want: true},
		{name: "no timestamp", header: "v1=" + strings.Split(good, "v1=")[1], body: body, at: now},
		{name: "empty", header: "", body: body, at: now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyWebhook(testSecret, tt.header, tt.body, tt.at, 5*time.Minute)
			if tt.want {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrBadSignature)
			}
		})
	}
	assert.Regexp(t, `^t=1800000000,v1=[0-9a-f]{64}$`, good)
}

func TestAppendOrders(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{name: "string", give: `{"order_id":"100123"}`, want: []string{"100123"}},
		{name: "number", give: `{"order_number":100124}`, want: []string{"100124"}},
		{name: "hash", give: `{"orderId":"#100125"}`, want: []string{"100125"}},
		{name: "several keys", give: `{"order_id":"100126","order":"100127"}`, want: []string{"100127", "100126"}},
		{name: "not an order key", give: `{"sku":"100128"}`},
		{name: "too short", give: `{"order_id":"1234"}`},
		{name: "not digits", give: `{"order_id":"10012a"}`},
		{name: "not json", give: `{"order_id":`},
		{name: "array", give: `["order_id"]`},
		{name: "duplicate", give: `{"order_id":"100123"}`, want: []string{"100123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var start []string
			if tt.name == "duplicate" {
				start = []string{"100123"}
			}
			assert.Equal(t, tt.want, nilIfEmpty(appendOrders(start, tt.give)))
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestMergeUser(t *testing.T) {
	set := func(k, v string) func(map[string]json.RawMessage) {
		return func(m map[string]json.RawMessage) { m[k] = json.RawMessage(v) }
	}
	tests := []struct {
		name    string
		give    string
		set     func(map[string]json.RawMessage)
		want    string
		wantErr error
	}{
		{name: "new", give: "", set: set("a", `1`), want: `{"a":1}`},
		{name: "merge", give: `{"b":true}`, set: set("a", `"x"`), want: `{"a":"x","b":true}`},
		{name: "replace", give: `{"a":1}`, set: set("a", `2`), want: `{"a":2}`},
		{name: "not an object", give: `[1,2]`, set: set("a", `1`), want: `{"a":1}`},
		{name: "null", give: `null`, set: set("a", `1`), want: `{"a":1}`},
		{name: "too big", give: `{}`, set: set("a", `"`+strings.Repeat("x", MaxUserStateBytes)+`"`), wantErr: errUserStateFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergeUser(json.RawMessage(tt.give), tt.set)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestRecentOrdersKeepsLastFive(t *testing.T) {
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	ctx := context.Background()
	require.NoError(t, func() error {
		_, err := st.PutUser(ctx, "t", "u", 0, json.RawMessage(`{"recent_orders":["100001","100002","100003","100004","100005"],"vip":true}`))
		return err
	}())
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "m"}}, Model: unusedModel{}, Sessions: st})
	require.NoError(t, err)
	r := &run{e: e, req: &RunRequest{Tenant: "t"}, user: "u", agent: e.agents["a"], orders: []string{"100003", "100006"}}
	r.touchUser(ctx)
	us, err := st.GetUser(ctx, "t", "u")
	require.NoError(t, err)
	var data struct {
		Recent []string `json:"recent_orders"`
		VIP    bool     `json:"vip"`
		Agent  string   `json:"last_agent"`
	}
	require.NoError(t, json.Unmarshal(us.Data, &data))
	assert.Equal(t, []string{"100002", "100004", "100005", "100003", "100006"}, data.Recent, "de-duplicated, newest last, five kept")
	assert.True(t, data.VIP, "other keys are kept")
	assert.Equal(t, "a", data.Agent)
}

func TestWithoutToolCalls(t *testing.T) {
	give := []llm.Message{
		{Role: llm.RoleUser, Content: llm.Text("q")},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "1"}}},
		{Role: llm.RoleTool, ToolCallID: "1", Content: llm.Text("r")},
		{Role: llm.RoleAssistant, Content: llm.Text("let me check"), ToolCalls: []llm.ToolCall{{ID: "2"}}},
		{Role: llm.RoleTool, ToolCallID: "2", Content: llm.Text("r")},
		{Role: llm.RoleAssistant, Content: llm.Text("a")},
	}
	orig := append([]llm.Message(nil), give...)
	got := WithoutToolCalls("x", "y", give)
	assert.Equal(t, []llm.Message{
		{Role: llm.RoleUser, Content: llm.Text("q")},
		{Role: llm.RoleAssistant, Content: llm.Text("let me check")},
		{Role: llm.RoleAssistant, Content: llm.Text("a")},
	}, got)
	assert.Equal(t, orig, give, "the input is not modified")
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name       string
		give       error
		wantStatus int
		wantCode   string
	}{
		{name: "unknown agent", give: fmt.Errorf("%w: x", ErrUnknownAgent), wantStatus: 404, wantCode: "agent_not_found"},
		{name: "invalid", give: fmt.Errorf("%w: no input", ErrInvalidRequest), wantStatus: 400, wantCode: "invalid_value"},
		{name: "busy", give: fmt.Errorf("%w: %w", ErrSessionBusy, store.ErrLeaseTimeout), wantStatus: 409, wantCode: "session_busy"},
		{name: "lease lost", give: fmt.Errorf("store turn: %w", store.ErrLeaseLost), wantStatus: 409, wantCode: "session_taken_over"},
		{name: "not found", give: fmt.Errorf("load session: %w", store.ErrNotFound), wantStatus: 404, wantCode: "not_found"},
		{name: "async off", give: ErrAsyncDisabled, wantStatus: 501, wantCode: "async_disabled"},
		{name: "model", give: &llm.Error{Kind: llm.KindRateLimited, Message: "slow down"}, wantStatus: 429},
		{name: "canceled", give: fmt.Errorf("run: %w", context.Canceled), wantStatus: 499},
		{name: "internal", give: errors.New("disk on fire"), wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.give)
			assert.Equal(t, tt.wantStatus, got.Status)
			assert.Equal(t, tt.wantCode, got.Code)
			assert.NotEmpty(t, got.Message)
			assert.NotContains(t, got.Message, "disk on fire", "internal causes stay internal")
		})
	}
	assert.Nil(t, Describe(nil))
}

// countingLeases counts renewals and can fail them.
type countingLeases struct {
	Leases
	renews atomic.Int64
	err    error
	slow   time.Duration
}

func (c *countingLeases) Renew(ctx context.Context, l store.Lease, ttl time.Duration) error {
	c.renews.Add(1)
	time.Sleep(c.slow)
	return c.err
}

func TestRenewer(t *testing.T) {
	t.Run("renews until stopped", func(t *testing.T) {
		cl := &countingLeases{}
		r := startRenewer(cl, store.Lease{}, 15*time.Millisecond, func(error) { t.Error("lost") })
		require.Eventually(t, func() bool { return cl.renews.Load() >= 3 }, 5*time.Second, time.Millisecond)
		r.stop()
		n := cl.renews.Load()
		time.Sleep(30 * time.Millisecond)
		assert.Equal(t, n, cl.renews.Load(), "no renewal after stop")
	})
	t.Run("stop waits for a renewal in progress", func(t *testing.T) {
		cl := &countingLeases{slow: 30 * time.Millisecond}
		r := startRenewer(cl, store.Lease{}, 3*time.Millisecond, func(error) {})
		require.Eventually(t, func() bool { return cl.renews.Load() >= 1 }, 5*time.Second, time.Millisecond)
		r.stop() // goleak in TestMain fails if a callback outlives it
	})
	t.Run("a lost lease stops renewing", func(t *testing.T) {
		cl := &countingLeases{err: store.ErrLeaseLost}
		var lost sync.WaitGroup
		lost.Add(1)
		r := startRenewer(cl, store.Lease{}, 6*time.Millisecond, func(err error) {
			assert.ErrorIs(t, err, store.ErrLeaseLost)
			lost.Done()
		})
		lost.Wait()
		time.Sleep(10 * time.Millisecond)
		assert.EqualValues(t, 1, cl.renews.Load())
		r.stop()
	})
	t.Run("other errors are retried", func(t *testing.T) {
		cl := &countingLeases{err: errors.New("redis hiccup")}
		r := startRenewer(cl, store.Lease{}, 6*time.Millisecond, func(error) { t.Error("lost") })
		require.Eventually(t, func() bool { return cl.renews.Load() >= 2 }, 5*time.Second, time.Millisecond)
		r.stop()
	})
}
