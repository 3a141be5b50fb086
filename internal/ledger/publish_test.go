package ledger

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sinkFunc adapts a function to Sink: it plays JetStream being down, slow
// or flaky, which a real server cannot be made to be on demand.
type sinkFunc func(ctx context.Context, subject, msgID string, data []byte) error

func (f sinkFunc) Publish(ctx context.Context, subject, msgID string, data []byte, _ map[string]string) error {
	return f(ctx, subject, msgID, data)
}

// collector records what reached the sink.
type collector struct {
	mu   sync.Mutex
	msgs map[string][]Record // by message ID
}

func (c *collector) put(msgID string, data []byte) error {
	recs, rejected, _, err := decodeBatch(data)
	if err != nil || rejected > 0 {
		return errors.Join(err, errors.New("rejected records"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msgs == nil {
		c.msgs = map[string][]Record{}
	}
	c.msgs[msgID] = recs
	return nil
}

func (c *collector) records() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.msgs {
		n += len(r)
	}
	return n
}

// TestPublishNeverBlocksWhenQ2IsDown: with JetStream hanging, Publish
// takes what fits in the buffer, drops and counts the rest, and never
// waits; when JetStream is back, everything taken is published.
func TestPublishNeverBlocksWhenQ2IsDown(t *testing.T) {
	var c collector
	up := make(chan struct{})
	sink := sinkFunc(func(ctx context.Context, _, msgID string, data []byte) error {
		select {
		case <-up:
			return c.put(msgID, data)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	m := newTestObserver()
	p, err := NewPublisher(sink, PublisherConfig{Buffer: 100, MaxBatch: 10, Senders: 2,
		PublishTimeout: 20 * time.Millisecond, Observer: m, Logger: quiet})
	require.NoError(t, err)
	run(t, "publisher", p.Run)

	const n = 5000
	accepted := 0
	var slowest time.Duration
	for i := range n {
		r := Record{Agent: "support", Model: "small", TokensIn: 1, Cost: 1}
		r.Call = i
		start := time.Now()
		if p.Publish(&r) {
			accepted++
		}
		slowest = max(slowest, time.Since(start))
	}
	st := p.Stats()
	t.Logf("accepted %d of %d, slowest Publish %s", accepted, n, slowest)
	// The buffer plus the batches the senders hold.
	assert.LessOrEqual(t, accepted, 100+2*10)
	assert.GreaterOrEqual(t, accepted, 100)
	assert.Equal(t, int64(n-accepted), st.Dropped)
	assert.Equal(t, int64(n-accepted), m.outcome(OutcomeDropped))
	// A Publish that waited for Q2 would take at least PublishTimeout.
	assert.Less(t, slowest, 20*time.Millisecond)

	// The senders' attempts time out and are retried while Q2 is down.
	require.Eventually(t, func() bool { return p.Stats().Retries > 0 }, 5*time.Second, 5*time.Millisecond)
	close(up)
	assert.Eventually(t, func() bool { return c.records() == accepted }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(accepted), p.Stats().Published)
	// Dropped records reach the cost counters too.
	assert.Equal(t, int64(n), m.usage("support", "small"))
}

// TestPublisherRetriesUnderOneMessageID: a publish whose outcome is
// unknown is retried with the same message ID, so JetStream stores it
// once.
func TestPublisherRetriesUnderOneMessageID(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	var c collector
	sink := sinkFunc(func(_ context.Context, _, msgID string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, msgID)
		if len(ids) < 3 {
			return errors.New("nats: timeout")
		}
		return c.put(msgID, data)
	})
	p, err := NewPublisher(sink, PublisherConfig{Senders: 1, Logger: quiet})
	require.NoError(t, err)
	run(t, "publisher", p.Run)
	require.True(t, p.Publish(&Record{ID: "x"}))
	require.Eventually(t, func() bool { return c.records() == 1 }, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, ids, 3)
	assert.Equal(t, ids[0], ids[1])
	assert.Equal(t, ids[0], ids[2])
	assert.Equal(t, int64(2), p.Stats().Retries)
}

// TestPublisherSplitsLargeBatches: a batch too large for one NATS message
// goes out as several.
func TestPublisherSplitsLargeBatches(t *testing.T) {
	var c collector
	var mu sync.Mutex
	largest := 0
	sink := sinkFunc(func(_ context.Context, _, msgID string, data []byte) error {
		mu.Lock()
		largest = max(largest, len(data))
		mu.Unlock()
		return c.put(msgID, data)
	})
	p, err := NewPublisher(sink, PublisherConfig{MaxBatch: 4096, Buffer: 4096, Senders: 1, Logger: quiet})
	require.NoError(t, err)
	big := strings.Repeat("é", 200)
	// Filled before the senders start, so that one batch takes them all.
	for range 1000 {
		require.True(t, p.Publish(&Record{Tenant: big, UserID: big, SessionID: big, Agent: big, Intent: big}))
	}
	run(t, "publisher", p.Run)
	require.Eventually(t, func() bool { return c.records() == 1000 }, 10*time.Second, 5*time.Millisecond)
	c.mu.Lock()
	msgs := len(c.msgs)
	c.mu.Unlock()
	assert.Greater(t, msgs, 1)
	mu.Lock()
	assert.LessOrEqual(t, largest, maxMessage)
	mu.Unlock()
}

// TestPublisherDrains: records buffered when Run's context ends are still
// published; records given after Run returned are dropped and counted.
func TestPublisherDrains(t *testing.T) {
	var c collector
	sink := sinkFunc(func(_ context.Context, _, msgID string, data []byte) error {
		time.Sleep(time.Millisecond)
		return c.put(msgID, data)
	})
	p, err := NewPublisher(sink, PublisherConfig{MaxBatch: 8, Senders: 1, Logger: quiet})
	require.NoError(t, err)
	for range 500 {
		require.True(t, p.Publish(&Record{}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, p.Run(ctx))
	assert.Equal(t, 500, c.records())
	assert.False(t, p.Publish(&Record{}))
	assert.Equal(t, PublisherStats{Published: 500, Dropped: 1}, p.Stats())
	assert.Error(t, p.Run(context.Background()), "second Run")
}

func TestNewPublisherRefusesBadConfig(t *testing.T) {
	_, err := NewPublisher(nil, PublisherConfig{})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewPublisher(sinkFunc(nil), PublisherConfig{Buffer: -1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// testObserver counts what an Observer is told.
type testObserver struct {
	mu       sync.Mutex
	outcomes map[Outcome]int64
	calls    map[[2]string]int64
	cost     USD
}

func newTestObserver() *testObserver {
	return &testObserver{outcomes: map[Outcome]int64{}, calls: map[[2]string]int64{}}
}

func (o *testObserver) Usage(agent, model, _ string, _, _, _ int64, cost USD) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[[2]string{agent, model}]++
	o.cost += cost
}

func (o *testObserver) Records(outcome Outcome, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes[outcome] += int64(n)
}

func (o *testObserver) outcome(x Outcome) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.outcomes[x]
}

func (o *testObserver) usage(agent, model string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[[2]string{agent, model}]
}
