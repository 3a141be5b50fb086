package load

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerfd is a fineSleeper on a Linux timerfd. The descriptor is
// non-blocking and registered with Go's poller, so a sleeping goroutine parks
// like one waiting on a socket, without holding an OS thread, and wakes when
// the kernel's high-resolution timer fires rather than on the poller's
// millisecond tick.
type timerfd struct {
	fd  int
	f   *os.File
	buf [8]byte
}

func newFineSleeper() fineSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &timerfd{fd: fd, f: os.NewFile(uintptr(fd), "load-pacer")}
}

func (t *timerfd) sleep(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	if _, err := t.f.Read(t.buf[:]); err != nil {
		time.Sleep(d)
	}
}

func (t *timerfd) close() { _ = t.f.Close() }
