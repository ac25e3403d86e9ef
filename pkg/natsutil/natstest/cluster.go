package natstest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
)

// StartCluster starts n embedded servers with JetStream joined in one
// cluster on loopback, so replicated streams (R3) behave as in production.
// Each Server's NC is connected to that server only.
func StartCluster(tb testing.TB, n int) []*Server {
	tb.Helper()
	// The route ports are chosen free and then bound by the servers; another
	// test may take one in between. That member then fails at once, and the
	// cluster starts again on new ports.
	var err error
	for range 3 {
		var servers []*Server
		if servers, err = startCluster(tb, n); err == nil {
			for _, s := range servers {
				s.NC, s.JS = s.Connect(tb)
				tb.Cleanup(s.Stop)
			}
			return servers
		}
		tb.Logf("start cluster: %v; again on other ports", err)
	}
	tb.Fatalf("start cluster: %v", err)
	return nil
}

// startCluster starts the members on fresh route ports; if one fails it
// stops the others.
func startCluster(tb testing.TB, n int) ([]*Server, error) {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(tb)
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{
				StoreDir:      tb.TempDir(),
				Listen:        "127.0.0.1:0",
				Name:          fmt.Sprintf("n%d", i+1),
				ClusterName:   "test",
				ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes:        routes,
			})
			if err != nil {
				errs[i] = fmt.Errorf("member n%d: %w", i+1, err)
				return
			}
			servers[i] = &Server{Server: srv}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range servers {
			if s != nil {
				s.Stop()
			}
		}
		return nil, err
	}
	return servers, nil
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
