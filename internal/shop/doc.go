// Package shop is floodgate's demo shop: a small e-commerce API over a
// seeded SQLite database that the demo agents' HTTP tools call, so that
// `floodgate serve` with no config runs a real agent over real tools, and
// whose data is deterministic, so that evaluators can check an agent's
// answers against the shop's ground truth.
//
// # Data
//
// Open seeds, in one transaction, from Config.Seed, Config.Orders and the
// shop's clock (Config.Now, by default stopped at 2026-11-27 12:00 UTC,
// DefaultNow): the same three give the same shop, byte for byte.
//
//   - 200 products from a built-in catalogue (10 categories: audio,
//     computing, phones, home, kitchen, shoes, sports, outdoor, clothing,
//     toys; 5 product lines of 4 variants each), SKUs such as AUD-10001 or
//     SHO-15000, prices in EUR, stock (about 15 % out of stock).
//   - Customers (Orders/3, at least 20) with an @example.* email address,
//     a phone number and a city.
//   - Orders numbered from 100001 upward, placed over the 180 days before
//     today, more of them lately, so higher numbers are newer. Each has 1–4
//     lines and a total (the sum of its lines; shipping is free). Their
//     status follows from their age: processing (4–40 h after placing),
//     shipped, in_transit, out_for_delivery, delivered; about 4 % are
//     cancelled while processing and about 10 % of delivered orders come
//     back (return_requested, then refunded 5–10 days later). With the
//     defaults: 2,523 delivered, 233 refunded, 105 cancelled, 50 in
//     transit, 32 return_requested, 28 processing, 18 out for delivery and
//     11 shipped. OrderIDs lists the orders of a status.
//   - Shipments for every order that left the warehouse: carrier (DHL, DPD,
//     UPS, GLS), tracking number (UPS: "1Z" and 16 letters and digits; DHL
//     12, DPD 14, GLS 11 digits), shipped date, ETA or delivery date, last
//     event and its location.
//   - Returns, numbered R-500001 upward: the seeded ones, and those
//     created through the API.
//
// # HTTP API
//
// Every answer is JSON and small (a few hundred bytes: it goes into a
// prompt). Field names are the ones models and the simulated provider
// look for (order_id, status, eta, carrier, tracking_number, total,
// refund_amount, currency, name, price, in_stock, stock). Amounts are
// numbers with two decimals (129.90), dates YYYY-MM-DD (UTC).
//
//	GET  /orders/{id}                order: status, placed_at, customer, email, items, total,
//	                                 currency, shipment summary (carrier, tracking_number,
//	                                 status, eta or delivered_at)
//	GET  /orders/{id}/shipment       carrier, tracking_number, status, shipped_at, eta or
//	                                 delivered_at, last_event, location; for an order that has
//	                                 not shipped: its status and a note (200, not 404)
//	GET  /orders/{id}/returns        the order's returns
//	GET  /shipments/{tracking}       a shipment by tracking number (any case)
//	GET  /products?q=&category=&limit=  search: SKUs in q first, then products matching any
//	                                 other word of q (FTS5, stemmed, best first) in names,
//	                                 categories and descriptions; limit 1–20, default 5
//	GET  /products/{sku}             one product, with description and stock count
//	POST /returns                    {"order_id", "reason", "items"?} → 201 and the return
//	GET  /returns/{id}               a return ("R-500001"; the "R-" may be left out)
//	GET  /customers/{email}/orders   the customer's 20 latest orders
//	GET  /healthz                    {"status":"ok","today":…}
//
// Order ids may come as "100123" or "#100123", and as a string or a number
// in POST /returns; SKUs and tracking numbers in any case. Errors are
// {"error": "<a sentence a model can act on>", "code": "<snake_case>"}:
// 400 malformed input (invalid_order_id, invalid_sku, invalid_body, …),
// 404 unknown ids (order_not_found, …) and routes (route_not_found), 405
// with Allow, 409 return_exists (with "return_id"), 413 body_too_large,
// 422 business rules (not_delivered, order_cancelled, item_not_in_order,
// return_window_closed), 500 internal (no detail).
//
// # Returns
//
// A return is accepted for a delivered order (delivered, or
// return_requested/refunded with lines not yet returned) until
// Config.ReturnDays (default 30) days after its delivery date; see
// CreateReturn for the rules and the order they are checked in. Items
// name whole order lines by SKU (none means every line not yet returned);
// the refund is their total, the order total when everything comes back.
// A new return is "requested" and shows as "approved" once
// Config.ApproveAfter (default 24 h) has passed on the shop's clock; with
// the default stopped clock it stays requested. A request for items that
// already have a return is refused with 409 and the existing return's id,
// so a model that asks twice does not create two returns.
//
// # Ground truth
//
// Order, Shipment, ShipmentByTracking, Product, SearchProducts, Return,
// ReturnsForOrder and OrdersByEmail return exactly the structs the API
// serves, for evaluators and the rules engine; CreateReturn is POST
// /returns. Refusals are *Error values wrapping ErrNotFound, ErrInvalid,
// ErrNotReturnable or ErrReturnExists.
//
// # Storage and concurrency
//
// The database is a SQLite file in WAL mode (the pure-Go modernc driver):
// by default a private file in a temporary directory that Close removes;
// with Config.Path a file that is kept, reused when it holds the same
// shop (so returns survive a restart) and reseeded otherwise. Reads run in
// parallel on a pool of read-only connections with prepared statements;
// writes go through a single connection, which serialises them: of two
// concurrent returns of the same order exactly one succeeds. A Shop is
// safe for concurrent use and starts no goroutine of its own.
//
// # Demo tools
//
// The demo agents' tools map onto the API as: get_order_status(order_id)
// → GET /orders/{order_id}; track_shipment(order_id) → GET
// /orders/{order_id}/shipment; search_products(query, category?) → GET
// /products?q={query}&category={category}; get_product(sku) → GET
// /products/{sku}; create_return(order_id, reason) → POST /returns;
// get_return_status(return_id) → GET /returns/{return_id}. The tests
// declare them as the default config should (sim_test.go), including the
// order (search_products before get_product) that the simulated model
// needs.
package shop
