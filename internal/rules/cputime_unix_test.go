//go:build unix

package rules

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime returns the CPU time this process has used, user and system:
// on a shared machine it measures the work, which wall-clock time does
// not.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(unix.TimevalToNsec(ru.Utime) + unix.TimevalToNsec(ru.Stime))
}
