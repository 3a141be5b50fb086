//go:build !linux

package load

// newFineSleeper returns nil: elsewhere the pacer relies on Go's timers.
func newFineSleeper() fineSleeper { return nil }
