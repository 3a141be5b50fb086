package sim

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// streamer writes one SSE stream, pacing events over the generation time
// and cutting it where a fault says.
type streamer struct {
	s     *Sim
	w     http.ResponseWriter
	rc    *http.ResponseController
	ctx   context.Context
	cut   <-chan struct{}
	buf   []byte
	start time.Time
	gen   time.Duration // time over which the payload bytes are spread
	total int           // payload bytes (content or arguments)
	sent  int           // payload bytes emitted so far
	n     int           // events emitted
	cutAt int           // abort after this many events; 0: never
}

// stream answers c as server-sent events: a role chunk, content pieces or
// tool-call deltas, a finish chunk, a usage chunk if asked, then [DONE].
func (s *Sim) stream(ctx context.Context, w http.ResponseWriter, p *prepared, c *completion,
	ttft, gen time.Duration, fd faultDecision, cut <-chan struct{}) outcome {
	if err := s.sleep(ctx, ttft, cut); err != nil {
		return sleepOutcome(err)
	}
	h := w.Header()
	h["Content-Type"] = sseContentType
	h["Cache-Control"] = noCache
	h["X-Request-Id"] = []string{"req_" + c.id[len("chatcmpl-"):]}

	rep := c.rep
	st := streamer{s: s, w: w, rc: http.NewResponseController(w), ctx: ctx, cut: cut, gen: gen}
	events := 2 // role, finish
	if len(rep.calls) > 0 {
		var frags []string
		for i := range rep.calls {
			frags = argFragments(frags[:0], rep.calls[i].Function.Arguments)
			events += 1 + len(frags)
			st.total += len(rep.calls[i].Function.Arguments)
		}
	} else {
		events += len(c.pieces)
		st.total = len(rep.content)
	}
	if p.usageChunk {
		events++
	}
	if fd.cut {
		st.cutAt = max(1, min(events-1, int(fd.cutFrac*float64(events))))
	}
	if gen > 0 {
		st.start = s.clock.Now()
	}
	bp := getBuf()
	defer func() { *bp = st.buf; putBuf(bp) }()
	st.buf = *bp

	cw := newChunkWriter(c)
	st.buf = cw.role(st.buf, len(rep.calls) > 0)
	if err := st.event(0); err != nil {
		return midStream(err)
	}
	if len(rep.calls) > 0 {
		var frags []string
		for i := range rep.calls {
			tc := &rep.calls[i]
			st.buf = cw.toolStart(st.buf, i, tc)
			if err := st.event(0); err != nil {
				return midStream(err)
			}
			frags = argFragments(frags[:0], tc.Function.Arguments)
			for _, f := range frags {
				st.buf = cw.toolArgs(st.buf, i, f)
				if err := st.event(len(f)); err != nil {
					return midStream(err)
				}
			}
		}
	} else {
		for _, piece := range c.pieces {
			st.buf = cw.content(st.buf, piece)
			if err := st.event(len(piece)); err != nil {
				return midStream(err)
			}
		}
	}
	st.buf = cw.finish(st.buf, rep.finish)
	if err := st.event(0); err != nil {
		return midStream(err)
	}
	if p.usageChunk {
		st.buf = cw.usage(st.buf, &c.usage)
		if err := st.event(0); err != nil {
			return midStream(err)
		}
	}
	st.buf = append(st.buf, doneEvent...)
	if err := st.flush(); err != nil {
		return outCanceled
	}
	return outOK
}

// midStream is the outcome of a stream that broke after its first event.
func midStream(err error) outcome {
	if errors.Is(err, errCut) {
		return outCut
	}
	return outCanceled
}

// minPause is the shortest wait worth a timer; events due sooner go out
// together.
const minPause = time.Millisecond

// event accounts for an event appended to the buffer, carrying payload
// bytes: it cuts the stream at the fault's point, and when pacing, flushes
// and waits until the next event is due.
func (st *streamer) event(payload int) error {
	st.n++
	st.sent += payload
	if st.cutAt > 0 && st.n >= st.cutAt {
		_ = st.flush()
		return errCut
	}
	if st.gen <= 0 || st.total == 0 {
		return nil
	}
	due := st.start.Add(time.Duration(float64(st.gen) * float64(st.sent) / float64(st.total)))
	wait := due.Sub(st.s.clock.Now())
	if wait < minPause {
		return nil
	}
	if err := st.flush(); err != nil {
		return err
	}
	return st.s.sleep(st.ctx, wait, st.cut)
}

func (st *streamer) flush() error {
	if len(st.buf) > 0 {
		if _, err := st.w.Write(st.buf); err != nil {
			return err
		}
		st.buf = st.buf[:0]
	}
	if err := st.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
