package queue

import (
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Msg is a delivered message as a Handler sees it. Its methods are safe for
// concurrent use; its Data must not be modified and may be kept after the
// handler returns.
type Msg interface {
	// ID is the message's idempotency key: the msgID it was published with
	// or, when that was empty, "<stream>:<sequence>", which is the same on
	// every delivery of the message.
	ID() string
	// Subject is the subject the message was published on.
	Subject() string
	// Data is the message body.
	Data() []byte
	// Header is the value of a header set at publish time, "" if absent.
	// Keys are case-sensitive.
	Header(key string) string
	// Deliveries is how many times the message has been delivered,
	// counting this one: 1 on the first attempt.
	Deliveries() int
	// InProgress tells the server the message is still being worked on,
	// restarting its ack timer. The Worker already does this every
	// AckWait/3 while the handler runs.
	InProgress() error
}

// message adapts a jetstream.Msg, with its metadata parsed once.
type message struct {
	jm         jetstream.Msg
	id         string
	deliveries int
}

func newMessage(jm jetstream.Msg) *message {
	m := &message{jm: jm, deliveries: 1}
	// Metadata only fails for a message without a JetStream reply subject,
	// which a pull consumer never hands out.
	md, err := jm.Metadata()
	if err == nil {
		m.deliveries = int(md.NumDelivered)
	}
	if h := jm.Headers(); h != nil {
		m.id = h.Get(jetstream.MsgIDHeader)
	}
	if m.id == "" && md != nil {
		m.id = md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return m
}

func (m *message) ID() string      { return m.id }
func (m *message) Subject() string { return m.jm.Subject() }
func (m *message) Data() []byte    { return m.jm.Data() }
func (m *message) Deliveries() int { return m.deliveries }
func (m *message) InProgress() error {
	return m.jm.InProgress()
}

func (m *message) Header(key string) string {
	h := m.jm.Headers()
	if h == nil {
		return ""
	}
	return h.Get(key)
}
