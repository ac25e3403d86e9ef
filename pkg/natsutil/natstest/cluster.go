package natstest

import (
	"fmt"
	"net"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
)

// StartCluster starts n embedded servers with JetStream joined in one
// cluster on loopback, so replicated streams (R3) behave as in production.
// Each Server's NC is connected to that server only.
func StartCluster(tb testing.TB, n int) []*Server {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(tb)
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	servers := make([]*Server, n)
	started := make(chan error, n)
	for i := range servers {
		go func() {
			srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{
				StoreDir:      tb.TempDir(),
				Listen:        "127.0.0.1:0",
				Name:          fmt.Sprintf("n%d", i+1),
				ClusterName:   "test",
				ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes:        routes,
			})
			if err == nil {
				servers[i] = &Server{Server: srv}
			}
			started <- err
		}()
	}
	for range servers {
		if err := <-started; err != nil {
			tb.Fatalf("start cluster member: %v", err)
		}
	}
	for _, s := range servers {
		s.NC, s.JS = s.Connect(tb)
		tb.Cleanup(s.Stop)
	}
	return servers
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
