//go:build unix

package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir for the embedded server: the
// server itself does not lock its store, and two servers writing one
// JetStream directory would corrupt it. The lock goes with the process,
// so a crash never leaves it behind.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "floodgate.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: data dir %s is used by another embedded server", ErrInvalidConfig, dir)
		}
		return nil, fmt.Errorf("queue: lock data dir: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
