package queue

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchEnvs are the columns benchmarks run in; the external one is skipped
// when the server is absent.
func benchEnvs(b *testing.B, fn func(b *testing.B, open func(b *testing.B) *Queue)) {
	b.Run("embedded", func(b *testing.B) {
		fn(b, func(b *testing.B) *Queue { return openTest(b, Config{DataDir: b.TempDir(), Logger: discard}) })
	})
	b.Run("external", func(b *testing.B) {
		fn(b, func(b *testing.B) *Queue {
			requireExternal(b)
			return openTest(b, Config{URL: externalURL, Logger: discard})
		})
	})
}

// BenchmarkPublish measures one synchronous publish: sent, stored on disk
// by JetStream, acknowledged.
func BenchmarkPublish(b *testing.B) {
	benchEnvs(b, func(b *testing.B, open func(b *testing.B) *Queue) {
		q := open(b)
		_, prefix := newStream(b, q, false)
		ctx := context.Background()
		data := make([]byte, 512)
		hdr := map[string]string{"Tenant": "acme"}
		subject := prefix + "acme"
		i := 0
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			i++
			if err := q.Publish(ctx, subject, "run-"+strconv.Itoa(i), data, hdr); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkPublishParallel measures publish throughput with many
// publishers on one connection, as request handlers publish.
func BenchmarkPublishParallel(b *testing.B) {
	benchEnvs(b, func(b *testing.B, open func(b *testing.B) *Queue) {
		q := open(b)
		_, prefix := newStream(b, q, false)
		ctx := context.Background()
		data := make([]byte, 512)
		subject := prefix + "acme"
		var n atomic.Int64
		b.SetParallelism(8)
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := q.Publish(ctx, subject, "run-"+strconv.FormatInt(n.Add(1), 10), data, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkEndToEnd measures publish → pulled → handled → acked, one
// message at a time: the latency an async run adds before its worker
// starts.
func BenchmarkEndToEnd(b *testing.B) {
	benchEnvs(b, func(b *testing.B, open func(b *testing.B) *Queue) {
		q := open(b)
		stream, prefix := newStream(b, q, true)
		handled := make(chan struct{}, 1)
		w, err := q.Worker(ConsumerConfig{Stream: stream, Durable: "bench"}, func(context.Context, Msg) error {
			handled <- struct{}{}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- w.Run(ctx) }()
		b.Cleanup(func() {
			cancel()
			<-stopped
		})
		data := make([]byte, 512)
		subject := prefix + "acme"
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			if err := q.Publish(ctx, subject, "run-"+strconv.Itoa(i), data, nil); err != nil {
				b.Fatal(err)
			}
			<-handled
		}
	})
}

// BenchmarkThroughput measures how fast messages flow through a worker of
// Concurrency 8 while 4 publishers fill the stream: msgs/s counts from the
// first publish until the last message was handled.
func BenchmarkThroughput(b *testing.B) {
	benchEnvs(b, func(b *testing.B, open func(b *testing.B) *Queue) {
		q := open(b)
		stream, prefix := newStream(b, q, true)
		var handled atomic.Int64
		w, err := q.Worker(ConsumerConfig{Stream: stream, Durable: "bench", Concurrency: 8}, func(context.Context, Msg) error {
			handled.Add(1)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- w.Run(ctx) }()
		b.Cleanup(func() {
			cancel()
			<-stopped
		})
		data := make([]byte, 512)
		subject := prefix + "acme"
		var n atomic.Int64
		b.SetParallelism(4)
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := q.Publish(ctx, subject, "run-"+strconv.FormatInt(n.Add(1), 10), data, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		for handled.Load() < n.Load() {
			time.Sleep(100 * time.Microsecond)
		}
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
	})
}
