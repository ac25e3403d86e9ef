// Package natstest starts a real embedded NATS server with JetStream for
// tests. There is no mock: every test talks to the same server code that
// production runs.
package natstest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
)

// Server is an embedded server and one client connection to it.
type Server struct {
	*server.Server
	Dir string
	NC  *nats.Conn
	JS  jetstream.JetStream
}

// Start starts a server storing under a fresh temporary directory; it is shut
// down when the test ends.
func Start(tb testing.TB) *Server { return StartIn(tb, tb.TempDir(), "") }

// StartIn starts a server on dir, optionally listening on listen (host:port)
// so that other connections or a restart can reach it.
func StartIn(tb testing.TB, dir, listen string) *Server {
	tb.Helper()
	srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{StoreDir: dir, Listen: listen, Name: "test"})
	if err != nil {
		tb.Fatalf("start embedded NATS: %v", err)
	}
	s := &Server{Server: srv, Dir: dir}
	s.NC, s.JS = s.Connect(tb)
	tb.Cleanup(s.Stop)
	return s
}

// Connect opens another in-process client connection, closed at test end.
func (s *Server) Connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := natsutil.Connect(natsutil.ClientConfig{Embedded: s.Server, Name: tb.Name()})
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Stop shuts the server down and waits for it; safe to call twice.
func (s *Server) Stop() {
	if s.NC != nil {
		s.NC.Close()
	}
	s.Shutdown()
	s.WaitForShutdown()
}
