//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package listener_test

import (
	"net"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/listener"
)

// A connection refused over MaxConns: accepted, sent the canned answer,
// read away and closed. The figure includes the client's dial and close.
func BenchmarkRefuseOverTheCap(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	refusal := []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	l := listener.New(ln, listener.Config{Name: "bench", MaxConns: 1, Refusal: func() []byte { return refusal }})
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // the one connection under the cap stays open
		}
	}()
	held, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer held.Close()
	buf := make([]byte, 256)
	for b.Loop() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := c.Read(buf); n == 0 {
			b.Fatal("no refusal")
		}
		c.Close()
	}
}

// Accepting and closing a connection under the cap, through the Listener
// and straight from the socket: what the wrapper costs.
func BenchmarkAcceptClose(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		name := "net"
		if wrapped {
			name = "listener"
		}
		b.Run(name, func(b *testing.B) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var ln net.Listener = raw
			if wrapped {
				ln = listener.New(raw, listener.Config{Name: "bench", MaxConns: 1 << 20})
			}
			defer ln.Close()
			for b.Loop() {
				c, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				s, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
				c.Close()
			}
		})
	}
}
