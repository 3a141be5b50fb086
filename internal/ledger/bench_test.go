package ledger

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkPublish is the ledger's whole cost on the request path: one
// Publish taken into the buffer, while the Publisher's senders publish to
// a real (embedded) JetStream. A tight loop outpaces JetStream by far, so
// the timer stops while the buffer drains whenever it is half full: what
// is measured is Publish at any request rate JetStream keeps up with
// (dropped/op stays 0). The wall time is mostly JetStream catching up:
// run it with -benchtime 200000x. Publish allocates nothing; B/op is the
// senders' encoding, off the request path.
func BenchmarkPublish(b *testing.B) {
	q := openQueue(b)
	p, err := NewPublisher(q, PublisherConfig{Logger: quiet})
	require.NoError(b, err)
	run(b, "publisher", p.Run)
	rec := testRecords("bench", 1, time.Now())[0]
	rec.ID = "" // a fresh ID per record, made by the sender
	b.ReportAllocs()
	for b.Loop() {
		if len(p.ch) > DefaultBuffer/2 {
			b.StopTimer()
			for len(p.ch) > DefaultBuffer/8 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
		p.Publish(&rec)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/op")
	b.ReportMetric(float64(p.Stats().Dropped)/float64(b.N), "dropped/op")
}

// BenchmarkPublishParallel is the same from many request goroutines at
// once (GOMAXPROCS × 8), without pauses: once the buffer is full, most
// calls take the drop path, which costs about the same.
func BenchmarkPublishParallel(b *testing.B) {
	q := openQueue(b)
	p, err := NewPublisher(q, PublisherConfig{Logger: quiet})
	require.NoError(b, err)
	run(b, "publisher", p.Run)
	rec := testRecords("bench", 1, time.Now())[0]
	rec.ID = ""
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		r := rec
		for pb.Next() {
			p.Publish(&r)
		}
	})
	b.ReportMetric(float64(p.Stats().Dropped)/float64(b.N), "dropped/op")
}

// BenchmarkPublishQ2Down is Publish while JetStream is unreachable (its
// publish hangs): the buffer is full and every record is dropped and
// counted, at the cost of a failed channel send.
func BenchmarkPublishQ2Down(b *testing.B) {
	down := sinkFunc(func(ctx context.Context, _, _ string, _ []byte) error {
		<-ctx.Done()
		return ctx.Err()
	})
	p, err := NewPublisher(down, PublisherConfig{Logger: quiet, DrainTimeout: time.Millisecond})
	require.NoError(b, err)
	rec := testRecords("bench", 1, time.Now())[0]
	for range DefaultBuffer {
		p.Publish(&rec)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Publish(&rec)
	}
	b.ReportMetric(float64(p.Stats().Dropped)/float64(b.N), "dropped/op")
}

// BenchmarkWriter is the ledger end to end: one op publishes 1000
// records and waits until the Writer has stored them (through an
// embedded JetStream). records/s is the throughput of the pipeline.
func BenchmarkWriter(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			q := openQueue(b)
			w, err := NewWriter(q, db, WriterConfig{Logger: quiet})
			require.NoError(b, err)
			p, err := NewPublisher(q, PublisherConfig{Logger: quiet})
			require.NoError(b, err)
			run(b, "writer", w.Run)
			run(b, "publisher", p.Run)
			const per = 1000
			recs := testRecords("w", per, time.Now())
			n := 0
			start := time.Now()
			for b.Loop() {
				for i := range recs {
					recs[i].ID = "w-" + strconv.Itoa(n)
					n++
					for !p.Publish(&recs[i]) {
						time.Sleep(100 * time.Microsecond) // the buffer is full: let it drain
					}
				}
				for w.Stats().Written < int64(n) {
					time.Sleep(100 * time.Microsecond)
				}
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkInsert is the database alone: one op inserts a batch of 256
// new records in one transaction.
func BenchmarkInsert(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			recs := testRecords("i", DefaultMaxBatch, time.Now())
			n := 0
			ctx := context.Background()
			start := time.Now()
			for b.Loop() {
				for i := range recs {
					recs[i].ID = "i-" + strconv.Itoa(n)
					n++
				}
				if _, err := db.Insert(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		})
	}
}
