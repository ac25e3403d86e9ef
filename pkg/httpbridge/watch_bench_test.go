package httpbridge

import (
	"net"
	"syscall"
	"testing"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(b *testing.B) (server, client net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// One look at a waiting client's socket: the price paid per wait every
// WatchInterval.
func BenchmarkPeekClient(b *testing.B) {
	server, _ := tcpPair(b)
	rc, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if peekClient(rc) != clientThere {
			b.Fatal("the client looks gone")
		}
	}
}

// Watching a request and stopping: the price every bridged request and
// every long poll pays once.
func BenchmarkWatchAddRemove(b *testing.B) {
	server, _ := tcpPair(b)
	w := newWatcher(WatchInterval)
	defer w.close()
	for b.Loop() {
		w.add(server, func() {})()
	}
}
