package rules

import (
	_ "embed"
	"sync"
)

// DefaultYAML is the built-in rule set of the demo shop, as a rules file.
//
//go:embed default.yaml
var DefaultYAML []byte

var defaultRules = sync.OnceValues(func() (*Rules, error) { return Parse(DefaultYAML) })

// Default returns the built-in rules of the demo shop: return status by
// return number, the return policy, shipment tracking and order status,
// in English and German, over the tools of the default configuration
// (get_return_status, track_shipment, get_order_status). It is compiled
// once; the error is only possible if the embedded file were broken,
// which the package's tests rule out.
func Default() (*Rules, error) { return defaultRules() }
