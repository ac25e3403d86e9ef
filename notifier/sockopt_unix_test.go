//go:build unix

package notifier_test

import "syscall"

// smallReceiveBuffer shrinks a socket's receive buffer before it connects,
// so the window it advertises is small from the first segment.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
