package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/ring"
)

// cluster is this node's place in the sticky ring: the membership that
// keeps each conversation on one node and the forwarder that sends a turn
// to its owner.
type cluster struct {
	ring *ring.Ring
	fwd  *ring.Forwarder

	stopRing context.CancelFunc
	done     chan struct{} // closed once the ring has left
}

// startCluster builds the ring and its forwarder when cluster.advertise_url
// is set (config validation ensures redis_url and secret come with it) and
// wires them into the gateway's configuration; without it every node
// serves every session and the session lease alone keeps one writer.
// Nothing runs until runCluster.
func (a *app) startCluster(gc *gateway.Config) error {
	c := a.cfg.Cluster
	if c.AdvertiseURL == "" {
		return nil
	}
	if a.redis == nil {
		return fmt.Errorf("cluster.advertise_url: sticky routing needs cluster.redis_url")
	}
	id, err := nodeID(c.AdvertiseURL)
	if err != nil {
		return err
	}
	rg, err := ring.New(ring.Config{
		ID:     id,
		URL:    c.AdvertiseURL,
		Redis:  a.redis,
		Prefix: c.Prefix,
		TTL:    c.HeartbeatTTL,
		// Requests waiting for admission count: a node with a queue is
		// busier than one running as many with none waiting.
		Load: func() int64 {
			s := a.admission.Stats()
			return int64(s.Running + s.Waiting)
		},
		// While Redis is down each node enforces 1/n of every limit.
		OnChange: func(m []ring.Member) { a.limiter.SetNodes(len(m)) },
		Logger:   a.log,
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	fwd, err := ring.NewForwarder(rg, ring.ForwarderConfig{Secret: []byte(c.Secret), MaxBody: a.cfg.Gateway.MaxBodyBytes})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := a.metrics.Registry().Register(rg.Collector()); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	gc.Forwarder = fwd
	gc.ClaimSession = func(ctx context.Context, tenant, session string) { rg.Claim(ctx, tenant, session) }
	gc.Node = rg.Self().ID
	a.cluster = &cluster{ring: rg, fwd: fwd}
	a.log.Info("cluster member", "node", gc.Node, "advertise", c.AdvertiseURL, "prefix", c.Prefix)
	return nil
}

// runCluster joins the ring until ctx is done and returns a context that
// is done once this node has left it: the gateway drains only then, so
// that the other nodes take over this node's sessions at once instead of
// forwarding turns to a node that no longer accepts them. Without a
// cluster it returns ctx.
func (a *app) runCluster(ctx context.Context) context.Context {
	c := a.cluster
	if c == nil {
		return ctx
	}
	rctx, stop := context.WithCancel(ctx)
	left, hasLeft := context.WithCancel(context.WithoutCancel(ctx))
	c.stopRing, c.done = stop, make(chan struct{})
	go func() {
		defer close(c.done)
		defer hasLeft()
		if err := c.ring.Run(rctx); err != nil {
			a.log.Error("ring stopped", "err", err)
		}
	}()
	return left
}

// stopCluster leaves the ring if the gateway stopped for another reason
// than ctx, waits until it has, and drops the forwarder's idle
// connections.
func (a *app) stopCluster() {
	c := a.cluster
	if c == nil || c.done == nil {
		return
	}
	c.stopRing()
	<-c.done
	c.fwd.Close()
}

// nodeID names this process in the ring: the advertised host and port,
// for people reading logs and X-Floodgate-Node, and 8 random characters,
// so that a restarted node is a new member.
func nodeID(advertise string) (string, error) {
	u, err := url.Parse(advertise)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("cluster.advertise_url %q: want http(s)://host:port", advertise)
	}
	host := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '_', r == ':', r == '-':
			return r
		}
		return '_'
	}, u.Host)
	if len(host) > 100 {
		host = host[:100]
	}
	return host + "-" + strings.ToLower(rand.Text()[:8]), nil
}
