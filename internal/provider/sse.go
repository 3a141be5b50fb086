package provider

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// sseReader parses a server-sent event stream as the WHATWG HTML standard
// defines it (§9.2.6): lines end in LF, CRLF or CR; a line starting with ':'
// is a comment (OpenRouter's ": OPENROUTER PROCESSING" keep-alives); the
// fields data, event, id and retry are understood and others ignored; a
// blank line dispatches the event; a leading BOM is dropped.
//
// Two deliberate leniencies: a final line without a line ending still counts
// as a line, and an event pending at the end of input is dispatched instead
// of dropped, so an upstream that closes right after "data: [DONE]" without
// the blank line still ends cleanly.
//
// Memory is bounded: a line longer than max, or an event whose data exceed
// max, is an error wrapping ErrTooLarge. In the steady state it allocates
// nothing per line or event: lines are read in place from the bufio.Reader
// and data are appended to buffers it reuses. It is not safe for concurrent
// use.
type sseReader struct {
	br    *bufio.Reader
	max   int
	long  []byte // a line longer than br's buffer, assembled
	data  []byte // the pending event's data lines, each followed by '\n'
	typ   []byte // the pending event's type
	id    []byte // last event ID
	retry int    // reconnection time in ms; kept per the spec, unused by a client that never reconnects

	skipLF  bool // the last line ended in CR: an LF that follows belongs to it
	bomDone bool
	atEOF   bool // the input ended; the next call reports io.EOF
}

// sseEvent is one dispatched event. Its slices are valid until the next call
// of next.
type sseEvent struct {
	typ  []byte // "" when the event named none
	data []byte
	id   []byte
}

// maxRetainedSSE bounds the buffers a pooled reader keeps between streams.
const maxRetainedSSE = 64 << 10

func newSSEReader(r io.Reader, bufSize, max int) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, bufSize), max: max}
}

// reset makes p read r as a new stream, keeping its buffers unless a huge
// event grew them.
func (p *sseReader) reset(r io.Reader, max int) {
	p.br.Reset(r)
	p.max = max
	p.long = trimBuf(p.long)
	p.data = trimBuf(p.data)
	p.typ = trimBuf(p.typ)
	p.id = trimBuf(p.id)
	p.retry = 0
	p.skipLF, p.bomDone, p.atEOF = false, false, false
}

func trimBuf(b []byte) []byte {
	if cap(b) > maxRetainedSSE {
		return nil
	}
	return b[:0]
}

// next returns the next event, or an error: io.EOF at the end of input, an
// error wrapping ErrTooLarge past the caps, or the reader's own error.
func (p *sseReader) next() (sseEvent, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(p.data) > 0 {
				return p.dispatch(), nil
			}
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if len(p.data) > 0 {
				return p.dispatch(), nil
			}
			p.typ = p.typ[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if len(p.data)+len(value)+1 > p.max {
				return sseEvent{}, fmt.Errorf("%w: sse event data over %d bytes", ErrTooLarge, p.max)
			}
			p.data = append(p.data, value...)
			p.data = append(p.data, '\n')
		case "event":
			p.typ = append(p.typ[:0], value...)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.id = append(p.id[:0], value...)
			}
		case "retry":
			if n, ok := digits(value); ok {
				p.retry = n
			}
		}
	}
}

// dispatch hands out the pending event and starts a new one. The returned
// slices keep pointing into p's buffers, which the next call overwrites.
func (p *sseReader) dispatch() sseEvent {
	ev := sseEvent{typ: p.typ, data: p.data[:len(p.data)-1], id: p.id}
	p.data = p.data[:0]
	p.typ = p.typ[:0]
	return ev
}

func digits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var bom = []byte("\xEF\xBB\xBF")

// readLine returns the next line without its ending, and without the BOM
// that may open the stream. The slice is valid until the next call.
func (p *sseReader) readLine() ([]byte, error) {
	line, err := p.readRawLine()
	if !p.bomDone && err == nil {
		p.bomDone = true
		line = bytes.TrimPrefix(line, bom)
	}
	return line, err
}

func (p *sseReader) readRawLine() ([]byte, error) {
	if p.atEOF {
		return nil, io.EOF
	}
	p.long = p.long[:0]
	from := 0 // bytes of buf already searched for a line ending
	for {
		buf, _ := p.br.Peek(p.br.Buffered())
		if len(buf) == 0 {
			if _, err := p.br.Peek(1); err != nil {
				return p.lastLine(err)
			}
			continue
		}
		if p.skipLF {
			p.skipLF = false
			if buf[0] == '\n' {
				_, _ = p.br.Discard(1)
				continue
			}
		}
		if i := indexEOL(buf[from:]); i >= 0 {
			i += from
			n := i + 1
			if buf[i] == '\r' {
				switch {
				case i+1 == len(buf):
					p.skipLF = true // the LF, if any, has not arrived yet
				case buf[i+1] == '\n':
					n++
				}
			}
			line, err := p.appendLong(buf[:i])
			_, _ = p.br.Discard(n)
			return line, err
		}
		from = len(buf)
		if len(buf) == p.br.Size() { // a line longer than the buffer: set it aside
			if len(p.long)+len(buf) > p.max {
				return nil, p.tooLong()
			}
			p.long = append(p.long, buf...)
			_, _ = p.br.Discard(len(buf))
			from = 0
			continue
		}
		if _, err := p.br.Peek(len(buf) + 1); err != nil {
			return p.lastLine(err)
		}
	}
}

// appendLong returns part as the line, or appended to a long line being
// assembled, enforcing the line cap.
func (p *sseReader) appendLong(part []byte) ([]byte, error) {
	if len(p.long)+len(part) > p.max {
		return nil, p.tooLong()
	}
	if len(p.long) == 0 {
		return part, nil
	}
	p.long = append(p.long, part...)
	return p.long, nil
}

func (p *sseReader) tooLong() error {
	return fmt.Errorf("%w: sse line over %d bytes", ErrTooLarge, p.max)
}

// lastLine ends the input: what is buffered without a line ending is the
// final line; a read error other than EOF is returned as is.
func (p *sseReader) lastLine(err error) ([]byte, error) {
	if !errors.Is(err, io.EOF) {
		return nil, err
	}
	p.atEOF = true
	rest, _ := p.br.Peek(p.br.Buffered())
	if len(rest) == 0 && len(p.long) == 0 {
		return nil, io.EOF
	}
	line, lerr := p.appendLong(rest)
	_, _ = p.br.Discard(len(rest))
	return line, lerr
}

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

var doneMarker = []byte("[DONE]")

// decodeEvent interprets one event of an OpenAI chat-completion stream: a
// chunk, the [DONE] marker (done), nothing to hand out (nil, false, nil:
// empty data, events of other types such as pings), or an error: an "error"
// event or an {"error":…} object carries upstream's message, bytes that are
// not a chunk are ErrMalformed. Errors are *llm.Error of KindStreamCut; a
// caller that has not handed out a chunk yet reclassifies them.
func decodeEvent(ev sseEvent, d *llm.ChunkDecoder) (*llm.Chunk, bool, error) {
	switch string(ev.typ) {
	case "", "message":
	case "error":
		return nil, false, eventError(ev.data)
	default:
		return nil, false, nil
	}
	data := bytes.TrimSpace(ev.data)
	switch {
	case len(data) == 0:
		return nil, false, nil
	case bytes.Equal(data, doneMarker):
		return nil, true, nil
	case data[0] != '{':
		return nil, false, malformedEvent(errors.New("event data is not a JSON object"))
	}
	c, err := d.Decode(data)
	switch {
	case errors.Is(err, llm.ErrErrorObject):
		return nil, false, eventError(data)
	case err != nil:
		return nil, false, malformedEvent(err)
	}
	return c, false, nil
}

func malformedEvent(err error) *llm.Error {
	return &llm.Error{Kind: llm.KindStreamCut, Message: "upstream sent a malformed stream event", Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
}
