package ring

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Member is a node of the ring as it last reported itself. A Member is a
// value: copy it freely.
type Member struct {
	// ID is the node's unique id (Config.ID).
	ID string
	// URL is the base URL its gateway is reached at (Config.URL).
	URL string
	// Started is when the node joined.
	Started time.Time
	// Load is the node's in-flight load at its last heartbeat
	// (Config.Load).
	Load int64
}

// record is a Member as stored in Redis.
type record struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Started int64  `json:"started"` // Unix ms
	Load    int64  `json:"load"`
}

func (m Member) encode() ([]byte, error) {
	return json.Marshal(record{ID: m.ID, URL: m.URL, Started: m.Started.UnixMilli(), Load: m.Load})
}

// decodeMember reads a record another node wrote; one that does not name a
// valid id and URL is refused, so that a stray key cannot become a member.
func decodeMember(b []byte) (Member, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Member{}, fmt.Errorf("decode member: %w", err)
	}
	if err := checkID(r.ID); err != nil {
		return Member{}, fmt.Errorf("decode member: %w", err)
	}
	if _, err := parseBaseURL(r.URL); err != nil {
		return Member{}, fmt.Errorf("decode member %s: %w", r.ID, err)
	}
	return Member{ID: r.ID, URL: r.URL, Started: time.UnixMilli(r.Started), Load: max(r.Load, 0)}, nil
}

// parseBaseURL reads a member's advertised URL: http or https, a host, and
// no path, query or fragment, because a forwarded request keeps its own
// path and its signature covers it as the receiver sees it.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("URL %q: %w", s, errBaseURL)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

var errBaseURL = errors.New("want http(s)://host[:port] with no path")
