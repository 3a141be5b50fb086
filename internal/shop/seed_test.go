package shop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checksum hashes every row of every table in key order.
func checksum(t testing.TB, s *Shop) string {
	t.Helper()
	h := sha256.New()
	for _, q := range []string{
		`SELECT pos, sku, name, category, description, price_cents, stock FROM products ORDER BY pos`,
		`SELECT id, name, email, phone, city FROM customers ORDER BY id`,
		`SELECT id, customer_id, status, placed_at, total_cents FROM orders ORDER BY id`,
		`SELECT order_id, line, sku, name, qty, price_cents FROM order_items ORDER BY order_id, line`,
		`SELECT order_id, carrier, tracking, status, shipped_at, eta, delivered_at, last_event, location FROM shipments ORDER BY order_id`,
		`SELECT seq, order_id, status, items, reason, refund_cents, requested_at FROM returns ORDER BY seq`,
	} {
		rows, err := s.rdb.Query(q)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintln(h, vals...)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestSeedDeterministic(t *testing.T) {
	a := seedShop(t, Config{Orders: 150, Seed: 7})
	b := seedShop(t, Config{Orders: 150, Seed: 7})
	assert.Equal(t, checksum(t, a), checksum(t, b), "same seed, same data")

	d := generate(7, 150, DefaultNow)
	assert.Equal(t, d, generate(7, 150, DefaultNow))
	assert.NotEqual(t, d, generate(8, 150, DefaultNow), "another seed, other data")
	assert.NotEqual(t, d, generate(7, 150, DefaultNow.AddDate(0, 0, 1)), "another day, other dates and statuses")
}

// TestSeedGolden pins the default shop's data: docs, golden files and
// evaluation suites name its orders, so a change must be deliberate
// (go test -run TestSeedGolden -update).
func TestSeedGolden(t *testing.T) {
	got := checksum(t, shared(t))
	path := filepath.Join("testdata", "checksum.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), got)
}

var (
	skuRE      = regexp.MustCompile(`^[A-Z]{2,5}-\d{2,6}$`)
	trackingRE = map[string]*regexp.Regexp{
		"UPS": regexp.MustCompile(`^1Z[0-9A-Z]{16}$`),
		"DHL": regexp.MustCompile(`^\d{12}$`),
		"DPD": regexp.MustCompile(`^\d{14}$`),
		"GLS": regexp.MustCompile(`^\d{11}$`),
	}
	emailRE = regexp.MustCompile(`^[a-z]+\.[a-z]+\d*@example\.(com|org|net)$`)
	phoneRE = regexp.MustCompile(`^\+\d{2,3}( \d{1,3})? \d{7}$`)
)

// TestGenerateInvariants checks the generated data against the rules the
// API and the evaluators rely on.
func TestGenerateInvariants(t *testing.T) {
	now := DefaultNow
	d := generate(DefaultSeed, DefaultOrders, now)

	require.Len(t, d.products, 200)
	skus := map[string]bool{}
	for _, p := range d.products {
		assert.Regexp(t, skuRE, p.sku)
		assert.False(t, skus[p.sku], "duplicate SKU %s", p.sku)
		skus[p.sku] = true
		assert.Positive(t, int64(p.price), p.sku)
		assert.True(t, isCategory(p.category), p.category)
	}
	emails := map[string]bool{}
	for _, c := range d.customers {
		assert.Regexp(t, emailRE, c.email)
		assert.Regexp(t, phoneRE, c.phone)
		assert.False(t, emails[c.email], "duplicate email %s", c.email)
		emails[c.email] = true
	}

	counts := map[string]int{}
	trackings := map[string]bool{}
	var prev int64
	for i, o := range d.orders {
		require.Equal(t, FirstOrderID+i, o.id)
		counts[o.status]++
		assert.GreaterOrEqual(t, o.placed, prev, "order %d placed before its predecessor", o.id)
		prev = o.placed
		assert.Less(t, o.placed, now.Unix())
		assert.Greater(t, o.placed, now.AddDate(0, 0, -historyDays-1).Unix())
		assert.True(t, len(o.items) >= 1 && len(o.items) <= 4, "order %d has %d lines", o.id, len(o.items))
		var total Money
		for _, it := range o.items {
			total += Money(it.Quantity) * it.Price
		}
		assert.Equal(t, total, o.total, "order %d total", o.id)

		shipped := o.status != StatusProcessing && o.status != StatusCancelled
		require.Equal(t, shipped, o.ship != nil, "order %d (%s) shipment", o.id, o.status)
		if o.ship != nil {
			assert.Regexp(t, trackingRE[o.ship.carrier], o.ship.tracking, "order %d", o.id)
			assert.False(t, trackings[o.ship.tracking], "duplicate tracking number")
			trackings[o.ship.tracking] = true
			assert.Greater(t, o.ship.shipped, o.placed)
			assert.Greater(t, o.ship.eta, o.ship.shipped)
			assert.Equal(t, o.ship.delivered != 0, o.ship.status == StatusDelivered)
			assert.NotEmpty(t, o.ship.event)
		}
		returned := o.status == StatusReturnRequested || o.status == StatusRefunded
		require.Equal(t, returned, o.ret != nil, "order %d (%s) return", o.id, o.status)
		if o.ret != nil {
			assert.Greater(t, o.ret.requested, o.ship.delivered)
			assert.LessOrEqual(t, o.ret.requested, now.Unix())
			assert.Equal(t, o.status == StatusRefunded, o.ret.status == ReturnRefunded)
			assert.Positive(t, int64(o.ret.refund))
			assert.LessOrEqual(t, o.ret.refund, o.total)
		}
	}
	// A realistic spread, and every status present so docs and tests have
	// an order of each kind.
	n := float64(len(d.orders))
	for _, st := range []string{StatusProcessing, StatusShipped, StatusInTransit, StatusOutForDelivery,
		StatusDelivered, StatusCancelled, StatusReturnRequested, StatusRefunded} {
		assert.GreaterOrEqual(t, counts[st], 5, "orders %s", st)
	}
	assert.InDelta(t, 0.85, float64(counts[StatusDelivered])/n, 0.07, "delivered share")
	assert.InDelta(t, cancelRate, float64(counts[StatusCancelled])/n, 0.015, "cancelled share")
	assert.InDelta(t, 0.08, float64(counts[StatusReturnRequested]+counts[StatusRefunded])/n, 0.03, "returned share")
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		give Config
	}{
		{"negative orders", Config{Orders: -1}},
		{"too many orders", Config{Orders: MaxOrders + 1}},
		{"negative approve-after", Config{ApproveAfter: -time.Second}},
		{"negative return window", Config{ReturnDays: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.give)
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
}

// TestOpenDefaults checks the default shop against the figures the package
// doc states.
func TestOpenDefaults(t *testing.T) {
	s := shared(t)
	assert.Equal(t, "2026-11-27", s.Today())
	want := map[string]int{
		StatusDelivered: 2523, StatusRefunded: 233, StatusCancelled: 105, StatusInTransit: 50,
		StatusReturnRequested: 32, StatusProcessing: 28, StatusOutForDelivery: 18, StatusShipped: 11,
	}
	got := map[string]int{}
	total := 0
	for st := range want {
		ids, err := s.OrderIDs(context.Background(), st)
		require.NoError(t, err)
		got[st] = len(ids)
		total += len(ids)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, DefaultOrders, total)
	_, err := s.Order(context.Background(), FirstOrderID+DefaultOrders-1)
	assert.NoError(t, err, "the last order")
	_, err = s.Order(context.Background(), FirstOrderID+DefaultOrders)
	assert.ErrorIs(t, err, ErrNotFound, "one past the last order")
}

// TestReopen: a file of the same shop keeps the returns made through the
// API; a file of another shop is reseeded.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	cfg := Config{Path: path, Orders: 150}

	s, err := Open(ctx, cfg)
	require.NoError(t, err)
	id := deliveredWithin(t, s, 0, 20, 1)[0]
	ret, err := s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "too big"})
	require.NoError(t, err)
	sum := checksum(t, s)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	s, err = Open(ctx, cfg)
	require.NoError(t, err)
	got, err := s.Return(ctx, ret.ReturnID)
	require.NoError(t, err, "the return survives a restart")
	assert.Equal(t, ret, got)
	assert.Equal(t, sum, checksum(t, s))
	require.NoError(t, s.Close())

	cfg.Seed = 2
	s, err = Open(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	fresh := seedShop(t, Config{Orders: 150, Seed: 2})
	assert.Equal(t, checksum(t, fresh), checksum(t, s), "another seed reseeds the file from scratch")
	_, err = os.Stat(path)
	assert.NoError(t, err, "the configured file is kept")
}

func TestCloseRemovesPrivateFile(t *testing.T) {
	s, err := Open(context.Background(), Config{Orders: 50})
	require.NoError(t, err)
	dir := s.tempDir
	require.DirExists(t, dir)
	require.NoError(t, s.Close())
	assert.NoDirExists(t, dir)
}
