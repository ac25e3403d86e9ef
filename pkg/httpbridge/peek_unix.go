//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package httpbridge

import (
	"errors"
	"syscall"
)

// peekClient looks at a client's socket without reading from it or
// waiting: a byte waiting (a pipelined request) or nothing yet means the
// client is there; end of stream or a reset means it has left.
func peekClient(rc syscall.RawConn) clientState {
	state := clientUnknown
	var buf [1]byte
	// Control, not Read: it runs whatever the connection's read deadline.
	err := rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			state = clientThere
		case err == nil: // n == 0: an orderly end of stream
			state = clientGone
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
			state = clientThere
		case errors.Is(err, syscall.ENOTSOCK), errors.Is(err, syscall.EBADF), errors.Is(err, syscall.EOPNOTSUPP):
			state = clientUnknown
		default: // ECONNRESET, ETIMEDOUT, ...
			state = clientGone
		}
	})
	if err != nil {
		// The connection is closed on this side: whoever closed it knows.
		return clientUnknown
	}
	return state
}
