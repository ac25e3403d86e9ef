//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package listener

import "net"

// discardReceived does nothing where the socket cannot be read without
// waiting.
func discardReceived(net.Conn) {}

func unread(net.Conn) bool { return false }

// RaiseFileLimit reports an unknown limit where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (limit uint64, err error) { return 0, nil }
