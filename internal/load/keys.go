package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Key is one API key of a run's key mix (Config.Keys): a tenant or a tier
// that gets a share of the requests.
type Key struct {
	// Label names the key in reports (Report.Keys), e.g. "vip"; the key
	// itself never appears in a report. 1 to 64 letters, digits, '-', '_'
	// or '.'.
	Label string
	// Key is sent as "Authorization: Bearer Key". Printable ASCII without
	// spaces.
	Key string
	// Weight is the key's share of the requests relative to the other keys'
	// weights; finite and > 0. Weights need not sum to 1.
	Weight float64
}

// maxKeys bounds a key mix: each key has its own request template and its
// own histograms in the report.
const maxKeys = 64

// ParseKeys parses a key mix written as the --keys flag takes it:
// comma-separated label=key:weight items, e.g.
// "vip=fg-A:0.1,standard=fg-B:0.6,free=fg-C:0.3". The label ends at the
// first '=' and the weight starts after the last ':', so a key may contain
// both; spaces around items and their parts are ignored. The result is
// validated as Config.Keys is; errors wrap ErrConfig.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: keys: empty", ErrConfig)
	}
	var keys []Key
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		label, rest, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: keys: %q is not label=key:weight", ErrConfig, item)
		}
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: keys: %q has no :weight", ErrConfig, item)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(rest[i+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: keys: weight of %q: %w", ErrConfig, strings.TrimSpace(label), err)
		}
		keys = append(keys, Key{Label: strings.TrimSpace(label), Key: strings.TrimSpace(rest[:i]), Weight: w})
		if len(keys) > maxKeys {
			return nil, fmt.Errorf("%w: keys: more than %d", ErrConfig, maxKeys)
		}
	}
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// validateKeys checks a key mix; errors wrap ErrConfig and never quote a
// key, which is a secret.
func validateKeys(keys []Key) error {
	if len(keys) > maxKeys {
		return fmt.Errorf("%w: keys: more than %d", ErrConfig, maxKeys)
	}
	seen := make(map[string]bool, len(keys))
	var total float64
	for i, k := range keys {
		switch {
		case !validLabel(k.Label):
			return fmt.Errorf("%w: keys[%d]: label %q: want 1 to 64 letters, digits, '-', '_' or '.'", ErrConfig, i, k.Label)
		case seen[k.Label]:
			return fmt.Errorf("%w: keys: label %q given twice", ErrConfig, k.Label)
		case !validToken(k.Key):
			return fmt.Errorf("%w: keys[%s]: key is empty or has spaces or control characters", ErrConfig, k.Label)
		case !(k.Weight > 0) || math.IsInf(k.Weight, 0):
			return fmt.Errorf("%w: keys[%s]: weight %v: want a finite number > 0", ErrConfig, k.Label, k.Weight)
		}
		seen[k.Label] = true
		total += k.Weight
	}
	if math.IsInf(total, 0) {
		return fmt.Errorf("%w: keys: weights sum to infinity", ErrConfig)
	}
	return nil
}

func validLabel(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// validToken reports whether s can go in an Authorization header as a
// bearer token: non-empty printable ASCII without spaces.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// keyPicker assigns each start a key by weight. The choice is a pure
// function of the seed and the start's sequence number, so a run is
// reproducible, workers need no shared state to pick, and picking costs a
// hash and a scan of a few thresholds. Immutable; safe for concurrent use.
type keyPicker struct {
	seed uint64
	// upper[i] is the exclusive upper bound, in the hash's range, of key
	// i's share; the last one is MaxUint64.
	upper []uint64
}

// newKeyPicker returns nil for an empty mix.
func newKeyPicker(keys []Key, seed int64) *keyPicker {
	if len(keys) == 0 {
		return nil
	}
	var total float64
	for _, k := range keys {
		total += k.Weight
	}
	p := &keyPicker{seed: mix64(uint64(seed)), upper: make([]uint64, len(keys))}
	var acc float64
	for i, k := range keys {
		acc += k.Weight / total
		// 2^64 as a float; a product at or past it saturates.
		if f := acc * 18446744073709551616.0; f < 18446744073709551616.0 {
			p.upper[i] = uint64(f)
		} else {
			p.upper[i] = math.MaxUint64
		}
	}
	p.upper[len(keys)-1] = math.MaxUint64
	return p
}

// pick returns the index of the key of start seq.
func (p *keyPicker) pick(seq uint64) int {
	x := mix64(p.seed + (seq+1)*0x9e3779b97f4a7c15) // SplitMix64's seq-th output
	for i, u := range p.upper[:len(p.upper)-1] {
		if x < u {
			return i
		}
	}
	return len(p.upper) - 1
}

// mix64 is SplitMix64's finaliser: a bijection of uint64 whose outputs
// for consecutive inputs look independent.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// normalizedWeights returns each key's weight divided by their sum.
func normalizedWeights(keys []Key) []float64 {
	var total float64
	for _, k := range keys {
		total += k.Weight
	}
	w := make([]float64, len(keys))
	for i, k := range keys {
		w[i] = k.Weight / total
	}
	return w
}
