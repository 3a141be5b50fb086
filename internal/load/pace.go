package load

import (
	"context"
	"time"
)

// Go's timers wake up to a millisecond late when the process is otherwise
// idle (the runtime's poller sleeps in whole milliseconds), which at 1,000
// req/s would add about half a millisecond to every open-loop latency. The
// pacer therefore sleeps on the coarse timer only down to fineWindow before
// the start and does the rest on a fineSleeper, a high-resolution timer that
// the platform provides (timerfd on Linux, see pace_linux.go).
const fineWindow = 2 * time.Millisecond

// fineSleeper blocks the calling goroutine for about d, d ≤ fineWindow, with
// a resolution far below a millisecond.
type fineSleeper interface {
	sleep(d time.Duration)
	close()
}

// pacer waits for scheduled start times. Not safe for concurrent use.
type pacer struct {
	coarse *time.Timer
	fine   fineSleeper // nil where the platform has none
}

func newPacer() *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{coarse: t, fine: newFineSleeper()}
}

func (p *pacer) close() {
	p.coarse.Stop()
	if p.fine != nil {
		p.fine.close()
	}
}

// waitUntil returns when now() reaches at, or with ctx's error when ctx is
// done first. A fine sleep is not interrupted by ctx, which delays a
// cancellation by at most fineWindow.
func (p *pacer) waitUntil(ctx context.Context, now func() time.Time, at time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := at.Sub(now())
		switch {
		case d <= 0:
			return nil
		case p.fine != nil && d <= fineWindow:
			p.fine.sleep(d)
			continue
		case p.fine != nil:
			d -= fineWindow / 2
		}
		p.coarse.Reset(d)
		select {
		case <-p.coarse.C:
		case <-ctx.Done():
			p.coarse.Stop()
			return ctx.Err()
		}
	}
}
