package natsutil_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
)

// A server whose port is taken fails to start at once and says why, rather
// than waiting out the readiness timeout: a cluster member in CI once waited
// 2 minutes on a route port another test had taken in the meantime.
func TestStartEmbeddedFailsAtOnceOnAPortInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for name, cfg := range map[string]natsutil.EmbeddedConfig{
		"client": {Listen: taken.Addr().String()},
		"route":  {Listen: "127.0.0.1:0", ClusterName: "c", ClusterListen: taken.Addr().String()},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.StoreDir, cfg.Name = t.TempDir(), "n1"
			start := time.Now()
			srv, err := natsutil.StartEmbedded(cfg)
			if err == nil {
				srv.Shutdown()
				srv.WaitForShutdown()
				t.Fatal("started on a port in use")
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s to fail", took)
			}
			if !strings.Contains(err.Error(), port) || !strings.Contains(err.Error(), "address already in use") {
				t.Errorf("error does not name the port and the cause: %v", err)
			}
		})
	}
}
