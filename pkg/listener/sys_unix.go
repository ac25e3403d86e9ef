//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package listener

import (
	"fmt"
	"net"
	"syscall"
)

// discardReceived reads away what c's client has sent so far, without
// waiting for more.
func discardReceived(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var buf [4096]byte
	for range 16 { // at most 64 KiB: a refused client gets no more attention
		n := 0
		// Returning true makes Read call back once, without waiting for
		// the socket to become readable.
		if rc.Read(func(fd uintptr) bool {
			n, _ = syscall.Read(int(fd), buf[:])
			return true
		}) != nil || n <= 0 {
			return
		}
	}
}

// unread reports whether c's client has sent bytes the server has not
// read, without waiting and without consuming them.
func unread(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	n := 0
	// Control, not Read: Read would wait for the read lock that a
	// goroutine blocked reading the connection holds, and Close is how
	// that goroutine is unblocked.
	if rc.Control(func(fd uintptr) {
		n, _, _ = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}) != nil {
		return false
	}
	return n > 0
}

// RaiseFileLimit raises the process's soft limit on open files to its hard
// limit and returns the limit in force afterwards. The Go runtime already
// does this at start on most systems; doing it here makes it explicit and
// tells what the limit is. err says why the limit could not be read or
// raised; limit is then what is known (0: unknown).
func RaiseFileLimit() (limit uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur >= rl.Max {
		return uint64(rl.Cur), nil
	}
	want := rl
	want.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return uint64(rl.Cur), fmt.Errorf("raise RLIMIT_NOFILE from %d to %d: %w", rl.Cur, rl.Max, err)
	}
	return uint64(want.Cur), nil
}
