//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package httpbridge

import "syscall"

// peekClient cannot look at a socket here: waits then end when they run
// out, when a write fails, or at shutdown.
func peekClient(syscall.RawConn) clientState { return clientUnknown }
