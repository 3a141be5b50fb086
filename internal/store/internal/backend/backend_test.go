package backend

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name             string
		count, after     int64
		max              int
		wantFirst, wantN int64
	}{
		{"empty", 0, 0, 0, 1, 0},
		{"all", 12, 0, 0, 1, 12},
		{"last 3", 12, 0, 3, 10, 3},
		{"after 5", 12, 5, 0, 6, 7},
		{"after 5 max 3", 12, 5, 3, 10, 3},
		{"after 5 max 10", 12, 5, 10, 6, 7},
		{"after all", 12, 12, 0, 13, 0},
		{"beyond", 12, 40, 5, 13, 0},
		{"negative after is 0", 4, -7, 0, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, n := Window(tt.count, tt.after, tt.max)
			if first != tt.wantFirst || n != tt.wantN {
				t.Fatalf("Window(%d, %d, %d) = %d, %d; want %d, %d", tt.count, tt.after, tt.max, first, n, tt.wantFirst, tt.wantN)
			}
		})
	}
}

func FuzzWindow(f *testing.F) {
	f.Add(int64(12), int64(5), 3)
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(1000), int64(-1), 10)
	f.Fuzz(func(t *testing.T, count, after int64, max int) {
		if count < 0 || count > 1<<40 || after > 1<<40 || after < -(1<<40) {
			t.Skip()
		}
		first, n := Window(count, after, max)
		if n < 0 {
			t.Fatalf("negative length %d", n)
		}
		if n == 0 {
			return
		}
		last := first + n - 1
		if first < 1 || first <= after || last != count {
			t.Fatalf("Window(%d, %d, %d) = [%d, %d]", count, after, max, first, last)
		}
		if max > 0 && n > int64(max) {
			t.Fatalf("Window(%d, %d, %d) returns %d turns", count, after, max, n)
		}
		if want := count - maxInt(after, 0); (max <= 0 || want <= int64(max)) && n != want {
			t.Fatalf("Window(%d, %d, %d) returns %d turns, want %d", count, after, max, n, want)
		}
	})
}

func maxInt(a, b int64) int64 { return max(a, b) }

// The wait loop: a granted first try costs no registration; a queued
// waiter is woken by Wake before its poll; ctx ending gives
// ErrLeaseTimeout and takes the waiter out of the queue.
func TestAcquireLoop(t *testing.T) {
	var w Waiters
	var tries atomic.Int32
	tok, err := w.Acquire(t.Context(), func(context.Context, string) (int64, bool, time.Duration, error) {
		tries.Add(1)
		return 7, true, 0, nil
	}, nil)
	if err != nil || tok != 7 || tries.Load() != 1 || w.Len() != 0 {
		t.Fatalf("uncontended: %d, %v, %d tries, %d registered", tok, err, tries.Load(), w.Len())
	}

	// With polling off, only Wake can let the waiter in before its
	// context ends.
	w.poll = time.Hour
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	free := make(chan string, 1)
	var granted atomic.Bool
	done := make(chan error, 1)
	go func() {
		_, err := w.Acquire(wctx, func(_ context.Context, id string) (int64, bool, time.Duration, error) {
			if granted.Load() {
				return 8, true, 0, nil
			}
			select {
			case free <- id:
			default:
			}
			return 0, false, time.Hour, nil
		}, func(context.Context, string) error { return nil })
		done <- err
	}()
	id := <-free
	for w.Len() == 0 {
		time.Sleep(time.Millisecond)
	}
	granted.Store(true)
	w.Wake(id)
	if err := <-done; err != nil {
		t.Fatalf("woken waiter: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	var left atomic.Bool
	_, err = w.Acquire(ctx, func(context.Context, string) (int64, bool, time.Duration, error) {
		return 0, false, 0, nil
	}, func(ctx context.Context, _ string) error {
		left.Store(ctx.Err() == nil)
		return nil
	})
	if !errors.Is(err, store.ErrLeaseTimeout) || !errors.Is(err, context.DeadlineExceeded) || !left.Load() || w.Len() != 0 {
		t.Fatalf("timed out: %v, left %v, %d registered", err, left.Load(), w.Len())
	}
}
