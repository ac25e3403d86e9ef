package metrics

import (
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// natsCollector reads the state of the tracked connections at scrape time,
// so the figure is never stale and nothing has to hook NATS callbacks.
var natsCollector = &natsConns{conns: make(map[*nats.Conn]struct{})}

var (
	natsConnectedDesc = prometheus.NewDesc(namespace+"_nats_connected",
		"1 when every NATS connection of this process is connected, 0 while any is disconnected or reconnecting.", nil, nil)
	natsReconnectsDesc = prometheus.NewDesc(namespace+"_nats_reconnects_total",
		"Times the NATS connections of this process reconnected.", nil, nil)
)

type natsConns struct {
	mu    sync.Mutex
	conns map[*nats.Conn]struct{}
}

// TrackNATS reports nc's state as feedbackd_nats_connected and
// feedbackd_nats_reconnects_total until untrack is called. Until a
// connection is tracked, neither series is exported.
func TrackNATS(nc *nats.Conn) (untrack func()) {
	natsCollector.mu.Lock()
	natsCollector.conns[nc] = struct{}{}
	natsCollector.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			natsCollector.mu.Lock()
			delete(natsCollector.conns, nc)
			natsCollector.mu.Unlock()
		})
	}
}

func (n *natsConns) Describe(ch chan<- *prometheus.Desc) {
	ch <- natsConnectedDesc
	ch <- natsReconnectsDesc
}

func (n *natsConns) Collect(ch chan<- prometheus.Metric) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.conns) == 0 {
		return
	}
	connected := 1.0
	var reconnects uint64
	for nc := range n.conns {
		if !nc.IsConnected() {
			connected = 0
		}
		reconnects += nc.Stats().Reconnects
	}
	ch <- prometheus.MustNewConstMetric(natsConnectedDesc, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(natsReconnectsDesc, prometheus.CounterValue, float64(reconnects))
}
