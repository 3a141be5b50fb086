package ledger

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeline is the ledger end to end: Publisher → embedded Q2 → Writer →
// db. Cleanup stops the Publisher (draining), then the Writer, then Q2.
type pipeline struct {
	pub *Publisher
	w   *Writer
	obs *testObserver
}

func newPipeline(t *testing.T, db *DB, wc WriterConfig) *pipeline {
	t.Helper()
	q := openQueue(t)
	obs := newTestObserver()
	wc.Observer, wc.Logger = obs, quiet
	w, err := NewWriter(q, db, wc)
	require.NoError(t, err)
	pub, err := NewPublisher(q, PublisherConfig{Observer: obs, Logger: quiet})
	require.NoError(t, err)
	run(t, "writer", w.Run)
	run(t, "publisher", pub.Run)
	return &pipeline{pub: pub, w: w, obs: obs}
}

func TestWriterRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		p := newPipeline(t, db, WriterConfig{})
		at := time.Now().Add(-time.Minute)
		recs := testRecords("rt", 600, at)
		for i := range recs {
			require.True(t, p.pub.Publish(&recs[i]))
		}
		waitCount(t, db, 600, 20*time.Second)
		// The last commits are visible a moment before they are counted.
		require.Eventually(t, func() bool { return p.w.Stats().Written == 600 }, 5*time.Second, time.Millisecond)
		st := p.w.Stats()
		assert.Equal(t, int64(600), st.Written)
		assert.Zero(t, st.Rejected)
		assert.Equal(t, int64(600), p.obs.outcome(OutcomeWritten))

		b, err := db.Breakdown(context.Background(), Query{GroupBy: GroupAgent, From: at.Add(-time.Second), To: time.Now()})
		require.NoError(t, err)
		var cost USD
		for i := range recs {
			cost += recs[i].Cost
		}
		assert.Equal(t, cost, b.Total.Cost)
		assert.Equal(t, int64(600), b.Total.Calls)
	})
}

// TestWriterRedelivery: the same records delivered again — a publish
// retried after the de-duplication window, or a message whose ack was
// lost after its transaction committed — are stored once.
func TestWriterRedelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := openQueue(t)
		w, err := NewWriter(q, db, WriterConfig{Logger: quiet})
		require.NoError(t, err)
		run(t, "writer", w.Run)

		recs := testRecords("dup", 50, time.Now())
		body, err := appendBatch(nil, recs)
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, q.Publish(ctx, Subject, "batch-"+strconv.Itoa(i), body, nil))
		}
		require.Eventually(t, func() bool { return w.Stats().Written+w.Stats().Duplicates == 150 }, 10*time.Second, 10*time.Millisecond)
		assert.Equal(t, WriterStats{Written: 50, Duplicates: 100}, w.Stats())
		rows, ids := count(t, db)
		assert.Equal(t, int64(50), rows)
		assert.Equal(t, rows, ids)

		// A lost ack: the handler runs twice on one message.
		m := testMsg{id: "lost-ack", data: mustBatch(t, testRecords("ack", 5, time.Now()))}
		require.NoError(t, w.handle(ctx, m))
		require.NoError(t, w.handle(ctx, m))
		rows, _ = count(t, db)
		assert.Equal(t, int64(55), rows)
	})
}

// TestWriterRejects: a body that is not a batch is acknowledged and
// counted; the valid records of a batch with invalid ones are stored.
func TestWriterRejects(t *testing.T) {
	db := openSQLiteDB(t)
	q := openQueue(t)
	w, err := NewWriter(q, db, WriterConfig{Logger: quiet})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, w.handle(ctx, testMsg{id: "junk", data: []byte("{not json")}))
	recs := testRecords("mixed", 3, time.Now())
	recs[1].Kind = "bogus"
	require.NoError(t, w.handle(ctx, testMsg{id: "mixed", data: mustBatch(t, recs)}))
	assert.Equal(t, WriterStats{Written: 2, Rejected: 2}, w.Stats())
}

// TestNoRecordLostAcrossPostgresOutage is the bar: records keep
// being published while PostgreSQL becomes unreachable (connections cut
// and refused) and comes back; every record is then stored exactly once,
// and none was dropped on the way.
func TestNoRecordLostAcrossPostgresOutage(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	proxy := newProxy(t, "127.0.0.1:5432")
	db := openDB(t, Config{PostgresDSN: "postgres://postgres@" + proxy.addr + "/test?sslmode=disable&connect_timeout=2",
		Schema: schema, MaxConns: 4})
	p := newPipeline(t, db, WriterConfig{WriteTimeout: 2 * time.Second, RetryMax: 200 * time.Millisecond})

	const n = 6000
	const rate = 3 * time.Millisecond // per batch of 10: ~3300 records/s for ~1.8 s
	at := time.Now()
	published := make(chan struct{})
	go func() {
		defer close(published)
		recs := testRecords("outage", n, at)
		tick := time.NewTicker(rate)
		defer tick.Stop()
		for i := 0; i < n; i += 10 {
			<-tick.C
			for j := i; j < i+10; j++ {
				if !p.pub.Publish(&recs[j]) {
					t.Errorf("record %d dropped", j)
				}
			}
		}
	}()
	// Let some records through, then cut the database for a second while
	// records keep coming.
	waitCount(t, db, 500, 10*time.Second)
	proxy.Down()
	time.Sleep(time.Second)
	proxy.Up()
	<-published

	waitCount(t, db, n, 30*time.Second)
	rows, ids := count(t, db)
	assert.Equal(t, int64(n), rows, "every record once")
	assert.Equal(t, rows, ids)
	var got []string
	require.NoError(t, db.b.query(context.Background(), "SELECT id FROM "+db.d.table, nil,
		func(scan func(...any) error) error {
			var id string
			got = append(got, id)
			return scan(&got[len(got)-1])
		}))
	want := make([]string, n)
	for i := range want {
		want[i] = "outage-" + strconv.Itoa(i)
	}
	slices.Sort(got)
	slices.Sort(want)
	assert.Equal(t, want, got)
	assert.Zero(t, p.pub.Stats().Dropped)
	st := p.w.Stats()
	assert.Greater(t, st.Retries, int64(0), "the outage was not felt: the test proves nothing")
	assert.Zero(t, st.Rejected)
	t.Logf("writer %+v, publisher %+v", st, p.pub.Stats())
}

// TestPublishLatencyUnaffectedByDatabasePause: while PostgreSQL hangs
// (connections open, nothing answered), Publish costs what it costs with
// the database up, and the records are written once it answers again.
func TestPublishLatencyUnaffectedByDatabasePause(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	proxy := newProxy(t, "127.0.0.1:5432")
	db := openDB(t, Config{PostgresDSN: "postgres://postgres@" + proxy.addr + "/test?sslmode=disable&connect_timeout=2",
		Schema: schema, MaxConns: 4})
	const writeTimeout = time.Second
	p := newPipeline(t, db, WriterConfig{WriteTimeout: writeTimeout, RetryMax: 200 * time.Millisecond})

	const n = 2000
	recs := testRecords("pause", 2*n, time.Now())
	measure := func(recs []Record) []time.Duration {
		lat := make([]time.Duration, len(recs))
		for i := range recs {
			start := time.Now()
			require.True(t, p.pub.Publish(&recs[i]))
			lat[i] = time.Since(start)
			if i%50 == 49 {
				time.Sleep(time.Millisecond) // a request rate, not a tight loop
			}
		}
		slices.Sort(lat)
		return lat
	}
	up := measure(recs[:n])
	waitCount(t, db, n, 10*time.Second)

	proxy.Pause()
	// Make sure the Writer is stuck on the hung database while we measure.
	retries := p.w.Stats().Retries
	paused := measure(recs[n:])
	require.Eventually(t, func() bool { return p.w.Stats().Retries > retries }, 10*time.Second, 10*time.Millisecond)
	proxy.Resume()
	waitCount(t, db, 2*n, 30*time.Second)

	pct := func(l []time.Duration, p float64) time.Duration { return l[int(float64(len(l)-1)*p)] }
	t.Logf("Publish latency, database up:     p50 %s p99 %s max %s", pct(up, .5), pct(up, .99), up[len(up)-1])
	t.Logf("Publish latency, database paused: p50 %s p99 %s max %s", pct(paused, .5), pct(paused, .99), paused[len(paused)-1])
	// Writing on the request path would cost at least a write time-out
	// per call while the database hangs.
	assert.Less(t, pct(paused, .99), 20*time.Millisecond)
	assert.Less(t, paused[len(paused)-1], writeTimeout/2)
	assert.LessOrEqual(t, pct(paused, .5), 3*pct(up, .5)+50*time.Microsecond)
}

// testMsg is a queue.Msg for calling a handler directly.
type testMsg struct {
	id   string
	data []byte
}

func (m testMsg) ID() string           { return m.id }
func (m testMsg) Subject() string      { return Subject }
func (m testMsg) Data() []byte         { return m.data }
func (m testMsg) Header(string) string { return "" }
func (m testMsg) Deliveries() int      { return 1 }
func (m testMsg) InProgress() error    { return nil }

func mustBatch(t testing.TB, recs []Record) []byte {
	b, err := appendBatch(nil, recs)
	require.NoError(t, err)
	return b
}

// TestWriterStopsDuringOutage: a Writer stopped while the database is
// down returns at once (not after its drain time-out) and gives its
// batches back; the Writer started next writes them when the database
// is back.
func TestWriterStopsDuringOutage(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	proxy := newProxy(t, "127.0.0.1:5432")
	db := openDB(t, Config{PostgresDSN: "postgres://postgres@" + proxy.addr + "/test?sslmode=disable&connect_timeout=1",
		Schema: schema, MaxConns: 4})
	q := openQueue(t)
	pub, err := NewPublisher(q, PublisherConfig{Logger: quiet})
	require.NoError(t, err)
	run(t, "publisher", pub.Run)

	first, err := NewWriter(q, db, WriterConfig{WriteTimeout: time.Second, RetryMax: 100 * time.Millisecond,
		DrainTimeout: 20 * time.Second, Logger: quiet})
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()

	proxy.Down()
	recs := testRecords("restart", 300, time.Now())
	for i := range recs {
		require.True(t, pub.Publish(&recs[i]))
	}
	require.Eventually(t, func() bool { return first.Stats().Retries > 0 }, 10*time.Second, 10*time.Millisecond)
	stopped := time.Now()
	stop()
	select {
	case <-done: // its handlers gave their messages back
	case <-time.After(10 * time.Second):
		t.Fatal("the Writer did not stop")
	}
	assert.Less(t, time.Since(stopped), 5*time.Second, "stopping waited for the database")
	assert.Zero(t, first.Stats().Written)

	second, err := NewWriter(q, db, WriterConfig{RetryMax: 100 * time.Millisecond, Logger: quiet})
	require.NoError(t, err)
	run(t, "second writer", second.Run)
	proxy.Up()
	waitCount(t, db, 300, 20*time.Second)
	t.Logf("first %+v second %+v", first.Stats(), second.Stats())
	rows, ids := count(t, db)
	assert.Equal(t, int64(300), rows)
	assert.Equal(t, rows, ids)
}
