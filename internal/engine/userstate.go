package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Keys of the shared user state that the engine maintains after every run;
// UserStateTool may not write them.
const (
	UserKeyLastAgent    = "last_agent"
	UserKeyLastSeen     = "last_seen"
	UserKeyRecentOrders = "recent_orders"
)

// Limits of the shared user state, which goes into every system prompt.
const (
	// MaxUserStateBytes caps a user's state document; an update that would
	// grow it beyond is refused.
	MaxUserStateBytes = 8 << 10
	// maxUserKeyLen caps a key written by UserStateTool.
	maxUserKeyLen = 64
	// recentOrders is how many order numbers recent_orders keeps.
	recentOrders = 5
)

const userStateParams = `{"type":"object","properties":{` +
	`"key":{"type":"string","description":"Short snake_case name of the fact, e.g. preferred_language."},` +
	`"value":{"description":"The fact: a string, number, boolean, list or object."}},` +
	`"required":["key","value"],"additionalProperties":false}`

// userStateDecl declares UserStateTool. Its description avoids the words by
// which a model (and the sim) would take it for a shop tool.
var userStateDecl = llm.Tool{Type: "function", Function: llm.FunctionDecl{
	Name: UserStateTool,
	Description: "Save a fact about the customer in their shared profile, so that every assistant knows it " +
		"in later conversations (for example a preferred language or contact channel).",
	Parameters: json.RawMessage(userStateParams),
}}

// loadUser reads the user's shared state for the prompt.
func (r *run) loadUser(ctx context.Context) error {
	if r.e.users == nil || r.user == "" {
		return nil
	}
	st, err := r.e.users.GetUser(ctx, r.req.Tenant, r.user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read user state: %w", err)
	}
	r.userState, r.userVersion = st.Data, st.Version
	return nil
}

// userStateTool is UserStateTool bound to one run: it writes the run's
// user's state. It is a Runner's local tool, so that its calls count
// against the run's one tool budget like any other.
type userStateTool struct {
	r *run
	// mu serialises calls of one turn, which the Runner may run in
	// parallel: each updates the run's copy of the state and its prompt.
	mu sync.Mutex
}

// Decl implements tool.Tool.
func (t *userStateTool) Decl() llm.Tool { return userStateDecl }

// Call implements tool.Tool: a domain error (no user, a full document) is
// an error result for the model, arguments it can fix are
// tool.ErrInvalidArguments, and a store failure is a failure of the tool.
func (t *userStateTool) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	if r.user == "" {
		return tool.Result{Content: errorJSON(noteNoUser), IsError: true}, nil
	}
	key, value, msg := parseUserStateArgs(string(args))
	if msg != "" {
		return tool.Result{}, &tool.ArgumentsError{Msg: msg}
	}
	st, err := store.UpdateUser(ctx, r.e.users, r.req.Tenant, r.user, func(data json.RawMessage) (json.RawMessage, error) {
		return mergeUser(data, func(m map[string]json.RawMessage) { m[key] = value })
	})
	if errors.Is(err, errUserStateFull) {
		return tool.Result{Content: errorJSON(err.Error()), IsError: true}, nil
	}
	if err != nil {
		r.e.log.Warn("update user state", "tenant", r.req.Tenant, "user", r.user, "err", err)
		return tool.Result{}, fmt.Errorf("the profile could not be saved: %w", err)
	}
	r.userState, r.userVersion = st.Data, st.Version
	r.setSystem()
	return tool.Result{Content: append(llm.AppendString([]byte(`{"saved":`), key), '}')}, nil
}

// parseUserStateArgs reads UserStateTool's arguments, as the model wrote
// them; msg says what is wrong with them, for the model to fix.
func parseUserStateArgs(args string) (key string, value json.RawMessage, msg string) {
	var a struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(args), &a); err != nil {
		return "", nil, "the arguments must be a JSON object with key and value"
	}
	switch {
	case a.Key == "":
		return "", nil, "key is required"
	case a.Key == UserKeyLastAgent || a.Key == UserKeyLastSeen || a.Key == UserKeyRecentOrders:
		return "", nil, "key " + a.Key + " is kept by the system"
	case len(a.Key) > maxUserKeyLen:
		return "", nil, fmt.Sprintf("key is longer than %d bytes", maxUserKeyLen)
	case len(a.Value) == 0:
		return "", nil, "value is required"
	}
	return a.Key, a.Value, ""
}

var errUserStateFull = fmt.Errorf("the profile is full (%d bytes); nothing was saved", MaxUserStateBytes)

// mergeUser applies set to the user's state document (an object; anything
// else is replaced) and returns it, keys sorted.
func mergeUser(data json.RawMessage, set func(map[string]json.RawMessage)) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil || m == nil {
			m = map[string]json.RawMessage{}
		}
	}
	set(m)
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode user state: %w", err)
	}
	if len(out) > MaxUserStateBytes {
		return nil, errUserStateFull
	}
	return out, nil
}

// touchUser records the run in the user's shared state: the agent that
// answered, when, and the order numbers the run's tool calls named. It
// logs failures: the run's answer stands without them.
func (r *run) touchUser(ctx context.Context) {
	if r.e.users == nil || r.user == "" {
		return
	}
	agent, _ := json.Marshal(r.agent.Name)
	seen, _ := json.Marshal(r.e.now().UTC().Format(time.RFC3339))
	touch := func(data json.RawMessage) (json.RawMessage, error) {
		return mergeUser(data, func(m map[string]json.RawMessage) {
			m[UserKeyLastAgent], m[UserKeyLastSeen] = agent, seen
			if len(r.orders) == 0 {
				return
			}
			var list []string
			_ = json.Unmarshal(m[UserKeyRecentOrders], &list)
			for _, o := range r.orders {
				list = slices.DeleteFunc(list, func(s string) bool { return s == o })
				list = append(list, o)
			}
			list = list[max(0, len(list)-recentOrders):]
			m[UserKeyRecentOrders], _ = json.Marshal(list)
		})
	}
	// The state read at the start of the run is usually still the newest:
	// try the compare-and-set on it before paying for a fresh read.
	data, err := touch(r.userState)
	if err == nil {
		_, err = r.e.users.PutUser(ctx, r.req.Tenant, r.user, r.userVersion, data)
	}
	if errors.Is(err, store.ErrConflict) {
		_, err = store.UpdateUser(ctx, r.e.users, r.req.Tenant, r.user, touch)
	}
	if err != nil {
		r.e.log.Warn("record run in user state", "tenant", r.req.Tenant, "user", r.user, "err", err)
	}
}

// appendOrders appends the order numbers found in a tool call's arguments:
// values of members whose name contains "order" that are 5 to 9 digits
// (a leading # dropped), as strings or numbers.
func appendOrders(dst []string, args string) []string {
	if !strings.Contains(args, "rder") && !strings.Contains(args, "RDER") {
		return dst
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &m) != nil {
		return dst
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.Contains(strings.ToLower(k), "order") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // a number
		}
		s = strings.TrimPrefix(strings.TrimSpace(s), "#")
		if isOrderNumber(s) && !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func isOrderNumber(s string) bool {
	if len(s) < 5 || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
