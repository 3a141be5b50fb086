package shop

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// schema is the shop's database. Times are Unix seconds (UTC); amounts
// are cents. products_fts indexes the catalogue for search, its rowid
// being products.pos.
var schema = []string{
	`CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE products(pos INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
		category TEXT NOT NULL, description TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL)`,
	`CREATE INDEX products_category ON products(category, pos)`,
	`CREATE VIRTUAL TABLE products_fts USING fts5(name, category, description, tokenize='porter unicode61')`,
	`CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
		phone TEXT NOT NULL, city TEXT NOT NULL)`,
	`CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL,
		placed_at INTEGER NOT NULL, total_cents INTEGER NOT NULL)`,
	`CREATE INDEX orders_customer ON orders(customer_id, id)`,
	`CREATE INDEX orders_status ON orders(status, id)`,
	`CREATE TABLE order_items(order_id INTEGER NOT NULL, line INTEGER NOT NULL, sku TEXT NOT NULL,
		name TEXT NOT NULL, qty INTEGER NOT NULL, price_cents INTEGER NOT NULL,
		PRIMARY KEY(order_id, line)) WITHOUT ROWID`,
	`CREATE TABLE shipments(order_id INTEGER PRIMARY KEY, carrier TEXT NOT NULL, tracking TEXT NOT NULL UNIQUE,
		status TEXT NOT NULL, shipped_at INTEGER NOT NULL, eta INTEGER NOT NULL, delivered_at INTEGER NOT NULL,
		last_event TEXT NOT NULL, location TEXT NOT NULL)`,
	`CREATE TABLE returns(seq INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, status TEXT NOT NULL,
		items TEXT NOT NULL, reason TEXT NOT NULL, refund_cents INTEGER NOT NULL, requested_at INTEGER NOT NULL)`,
	`CREATE INDEX returns_order ON returns(order_id, seq)`,
}

var tables = []string{"meta", "products", "products_fts", "customers", "orders", "order_items", "shipments", "returns"}

// firstReturnSeq numbers returns: R-500001 upward.
const firstReturnSeq = 500001

// Seeding parameters: the shape of the shop's history.
const (
	historyDays   = 180  // orders are placed over this many days before Now
	cancelRate    = 0.04 // orders cancelled while processing
	returnRate    = 0.10 // delivered orders that come back
	warehouseCity = "Kassel, DE"
)

type dataset struct {
	products  []genProduct
	customers []genCustomer
	orders    []genOrder
}

type genProduct struct {
	catalogProduct
	stock int
}

type genCustomer struct {
	name, email, phone, city string
}

type genOrder struct {
	id       int
	customer int
	status   string
	placed   int64
	total    Money
	items    []Item
	ship     *genShipment
	ret      *genReturn
}

type genShipment struct {
	carrier, tracking, status string
	shipped, eta, delivered   int64
	event, location           string
}

type genReturn struct {
	status, reason string
	items          []string
	refund         Money
	requested      int64
}

var (
	firstNames = []string{"Anna", "Lukas", "Sofia", "Jonas", "Emma", "Leon", "Mia", "Felix", "Hannah", "Paul",
		"Lea", "Noah", "Clara", "Elias", "Marie", "Ben", "Julia", "David", "Laura", "Max",
		"Sarah", "Tom", "Nina", "Jan", "Eva", "Luca", "Ella", "Finn", "Ida", "Oskar",
		"Chloe", "Hugo", "Lucia", "Mateo", "Amelie", "Liam", "Olivia", "Emil", "Zoe", "Theo"}
	lastNames = []string{"Schmidt", "Mueller", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch", "Richter",
		"Klein", "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann", "Hartmann", "Krueger", "Lange", "Werner",
		"Dubois", "Martin", "Bernard", "Laurent", "Garcia", "Lopez", "Rossi", "Bianchi", "de Jong", "Jansen",
		"Novak", "Kowalski", "Nielsen", "Hansen", "Smith", "Brown", "Taylor", "Wilson", "Murphy", "Kelly"}
	// cities: "City, CC" and the phone prefix there.
	cities = [][2]string{
		{"Berlin, DE", "+49 30"}, {"Hamburg, DE", "+49 40"}, {"Munich, DE", "+49 89"}, {"Cologne, DE", "+49 221"},
		{"Frankfurt, DE", "+49 69"}, {"Stuttgart, DE", "+49 711"}, {"Leipzig, DE", "+49 341"}, {"Dresden, DE", "+49 351"},
		{"Vienna, AT", "+43 1"}, {"Zurich, CH", "+41 44"}, {"Amsterdam, NL", "+31 20"}, {"Rotterdam, NL", "+31 10"},
		{"Brussels, BE", "+32 2"}, {"Paris, FR", "+33 1"}, {"Lyon, FR", "+33 4"}, {"Copenhagen, DK", "+45"},
		{"Prague, CZ", "+420"}, {"Warsaw, PL", "+48 22"}, {"Milan, IT", "+39 02"}, {"Madrid, ES", "+34 91"},
	}
	emailDomains = []string{"example.com", "example.org", "example.net"}

	// carriers with their share of parcels, transit days and hubs.
	carriers = []struct {
		name       string
		share      float64
		minT, maxT int
		hubs       []string
	}{
		{"DHL", 0.40, 1, 3, []string{"Leipzig, DE", "Hannover, DE", "Bochum, DE", "Aschheim, DE"}},
		{"DPD", 0.20, 1, 3, []string{"Aschaffenburg, DE", "Hamburg, DE", "Unna, DE"}},
		{"UPS", 0.20, 1, 2, []string{"Cologne, DE", "Neuss, DE", "Frankfurt, DE"}},
		{"GLS", 0.20, 2, 4, []string{"Neuenstein, DE", "Staufenberg, DE", "Essen, DE"}},
	}
	transitEvents   = []string{"Arrived at parcel centre", "Departed parcel centre", "Processed at sorting facility", "In transit to the destination parcel centre"}
	deliveredEvents = []string{"Delivered to the recipient", "Delivered to a neighbour", "Delivered to a parcel locker", "Left at the front door as agreed"}
	returnReasons   = []string{"Too small", "Arrived damaged", "Not as described", "Changed my mind", "Wrong item received", "Better price elsewhere", "Stopped working"}
)

// generate builds the shop's data for seed, n orders and now. Each order
// draws from its own stream (seed, order id), so an order's items, dates
// and shipment do not depend on the orders generated before it.
func generate(seed int64, n int, now time.Time) *dataset {
	d := &dataset{}
	r := rand.New(rand.NewPCG(uint64(seed), 0x5ca1ab1e))
	for _, p := range catalogProducts() {
		stock := 0
		if r.Float64() >= 0.15 {
			stock = 1 + r.IntN(120)
		}
		d.products = append(d.products, genProduct{p, stock})
	}

	nc := max(20, n/3)
	emails := make(map[string]bool, nc)
	for range nc {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		city := cities[r.IntN(len(cities))]
		local := strings.ToLower(first + "." + strings.ReplaceAll(last, " ", ""))
		domain := emailDomains[r.IntN(len(emailDomains))]
		email := local + "@" + domain
		for k := 2; emails[email]; k++ {
			email = local + strconv.Itoa(k) + "@" + domain
		}
		emails[email] = true
		d.customers = append(d.customers, genCustomer{
			name:  first + " " + last,
			email: email,
			phone: fmt.Sprintf("%s %07d", city[1], r.IntN(10_000_000)),
			city:  city[0],
		})
	}

	trackings := make(map[string]bool, n)
	for i := range n {
		d.orders = append(d.orders, genOrderAt(seed, i, n, len(d.customers), d.products, now, trackings))
	}
	return d
}

func genOrderAt(seed int64, i, n, nCustomers int, products []genProduct, now time.Time, trackings map[string]bool) genOrder {
	id := FirstOrderID + i
	r := rand.New(rand.NewPCG(uint64(seed), uint64(id)))
	// Ages have a density falling linearly from now to historyDays ago (a
	// shop busier lately): F(a) = 1-(1-a/H)², so a = H(1-√(1-F)). Order i
	// takes its age from the (n-i)-th of n equal slices of F, so ids rise
	// with time.
	f := (float64(n-i) - r.Float64()) / float64(n)
	age := time.Duration(historyDays * 24 * float64(time.Hour) * (1 - math.Sqrt(1-f)))
	placed := now.Add(-age).Truncate(time.Second)
	o := genOrder{id: id, customer: r.IntN(nCustomers), placed: placed.Unix()}

	lines := 1
	switch x := r.Float64(); {
	case x < 0.05:
		lines = 4
	case x < 0.17:
		lines = 3
	case x < 0.45:
		lines = 2
	}
	used := map[int]bool{}
	for range lines {
		p := r.IntN(len(products))
		for used[p] {
			p = r.IntN(len(products))
		}
		used[p] = true
		qty := 1
		switch x := r.Float64(); {
		case x < 0.03:
			qty = 3
		case x < 0.15:
			qty = 2
		}
		pr := products[p]
		o.items = append(o.items, Item{SKU: pr.sku, Name: pr.name, Quantity: qty, Price: pr.price})
		o.total += Money(qty) * pr.price
	}

	shipped := placed.Add(time.Duration((4 + 36*r.Float64()) * float64(time.Hour)))
	if r.Float64() < cancelRate {
		cancelled := placed.Add(time.Duration(r.Float64() * float64(shipped.Sub(placed))))
		if !now.Before(cancelled) {
			o.status = StatusCancelled
			return o
		}
	}
	if now.Before(shipped) {
		o.status = StatusProcessing
		return o
	}

	x := r.Float64()
	ci := len(carriers) - 1
	for k, acc := 0, 0.0; k < len(carriers); k++ {
		if acc += carriers[k].share; x < acc {
			ci = k
			break
		}
	}
	c := carriers[ci]
	days := c.minT + r.IntN(c.maxT-c.minT+1)
	day := shipped.Truncate(24*time.Hour).AddDate(0, 0, days)
	delivered := day.Add(time.Duration((9 + 9*r.Float64()) * float64(time.Hour))).Truncate(time.Second)
	outForDelivery := day.Add(7 * time.Hour)
	firstScan := shipped.Add(8 * time.Hour)
	track := trackingNumber(c.name, r)
	for trackings[track] {
		track = trackingNumber(c.name, r)
	}
	trackings[track] = true
	// An empty location is the customer's city, filled in at insert time.
	s := &genShipment{carrier: c.name, tracking: track, shipped: shipped.Unix(), eta: delivered.Unix()}
	o.ship = s
	switch {
	case now.Before(firstScan):
		o.status, s.event, s.location = StatusShipped, "Parcel handed to "+c.name, warehouseCity
	case now.Before(outForDelivery):
		o.status, s.event, s.location = StatusInTransit, transitEvents[r.IntN(len(transitEvents))], c.hubs[r.IntN(len(c.hubs))]
	case now.Before(delivered):
		o.status, s.event = StatusOutForDelivery, "Out for delivery"
	default:
		o.status, s.event = StatusDelivered, deliveredEvents[r.IntN(len(deliveredEvents))]
		s.delivered = delivered.Unix()
	}
	s.status = o.status
	if o.status != StatusDelivered || r.Float64() >= returnRate {
		return o
	}
	requested := delivered.Add(time.Duration((0.5 + 19.5*r.Float64()) * 24 * float64(time.Hour))).Truncate(time.Second)
	if now.Before(requested) {
		return o
	}
	ret := &genReturn{status: ReturnRequested, reason: returnReasons[r.IntN(len(returnReasons))], requested: requested.Unix()}
	all := len(o.items) == 1 || r.Float64() < 0.7
	pick := r.IntN(len(o.items))
	for k, it := range o.items {
		if all || k == pick {
			ret.items = append(ret.items, it.SKU)
			ret.refund += Money(it.Quantity) * it.Price
		}
	}
	refunded := requested.Add(time.Duration((5 + 5*r.Float64()) * 24 * float64(time.Hour)))
	o.status = StatusReturnRequested
	if !now.Before(refunded) {
		ret.status, o.status = ReturnRefunded, StatusRefunded
	}
	o.ret = ret
	return o
}

// trackingNumber makes a carrier's tracking number: UPS "1Z" and 16
// upper-case alphanumerics; DHL 12, DPD 14 and GLS 11 digits.
func trackingNumber(carrier string, r *rand.Rand) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	n, set := 12, alnum[:10]
	switch carrier {
	case "UPS":
		n, set = 16, alnum
	case "DPD":
		n = 14
	case "GLS":
		n = 11
	}
	b := make([]byte, 0, n+2)
	if carrier == "UPS" {
		b = append(b, "1Z"...)
	}
	for range n {
		b = append(b, set[r.IntN(len(set))])
	}
	return string(b)
}

// seed drops the shop's tables and writes the generated data in one
// transaction.
func (s *Shop) seed(ctx context.Context) error {
	d := generate(s.cfg.Seed, s.cfg.Orders, s.now())
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	if err := insertAll(ctx, tx, d); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('fingerprint', ?)`, s.fingerprint()); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	return tx.Commit()
}

// inserter runs one prepared statement many times, keeping the first error.
type inserter struct {
	ctx  context.Context
	stmt *sql.Stmt
	err  error
}

func (in *inserter) exec(args ...any) {
	if in.err == nil {
		_, in.err = in.stmt.ExecContext(in.ctx, args...)
	}
}

func insertAll(ctx context.Context, tx *sql.Tx, d *dataset) error {
	prep := func(q string) *inserter {
		st, err := tx.PrepareContext(ctx, q)
		return &inserter{ctx: ctx, stmt: st, err: err}
	}
	products := prep(`INSERT INTO products(pos, sku, name, category, description, price_cents, stock) VALUES(?,?,?,?,?,?,?)`)
	customers := prep(`INSERT INTO customers(id, name, email, phone, city) VALUES(?,?,?,?,?)`)
	orders := prep(`INSERT INTO orders(id, customer_id, status, placed_at, total_cents) VALUES(?,?,?,?,?)`)
	items := prep(`INSERT INTO order_items(order_id, line, sku, name, qty, price_cents) VALUES(?,?,?,?,?,?)`)
	ships := prep(`INSERT INTO shipments(order_id, carrier, tracking, status, shipped_at, eta, delivered_at, last_event, location) VALUES(?,?,?,?,?,?,?,?,?)`)
	rets := prep(`INSERT INTO returns(seq, order_id, status, items, reason, refund_cents, requested_at) VALUES(?,?,?,?,?,?,?)`)
	all := []*inserter{products, customers, orders, items, ships, rets}
	defer func() {
		for _, in := range all {
			if in.stmt != nil {
				_ = in.stmt.Close()
			}
		}
	}()

	for i, p := range d.products {
		products.exec(i+1, p.sku, p.name, p.category, p.desc, int64(p.price), p.stock)
	}
	for i, c := range d.customers {
		customers.exec(i+1, c.name, c.email, c.phone, c.city)
	}
	seq := firstReturnSeq
	for _, o := range d.orders {
		orders.exec(o.id, o.customer+1, o.status, o.placed, int64(o.total))
		for k, it := range o.items {
			items.exec(o.id, k+1, it.SKU, it.Name, it.Quantity, int64(it.Price))
		}
		if sh := o.ship; sh != nil {
			loc := sh.location
			if loc == "" {
				loc = d.customers[o.customer].city
			}
			ships.exec(o.id, sh.carrier, sh.tracking, sh.status, sh.shipped, sh.eta, sh.delivered, sh.event, loc)
		}
		if rt := o.ret; rt != nil {
			rets.exec(seq, o.id, rt.status, strings.Join(rt.items, ","), rt.reason, int64(rt.refund), rt.requested)
			seq++
		}
	}
	for _, in := range all {
		if in.err != nil {
			return in.err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO products_fts(rowid, name, category, description)
		SELECT pos, name, category, description FROM products`); err != nil {
		return fmt.Errorf("index products: %w", err)
	}
	return nil
}
