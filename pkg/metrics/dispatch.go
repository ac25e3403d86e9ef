package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dispatch: notifications the dispatcher sent to people's channels. Every
// delivery attempt is made by exactly one replica, so summing over replicas
// counts each attempt once.
var (
	dispatchDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "dispatch", Name: "deliveries_total",
		Help: "Notification delivery attempts by channel and outcome: delivered, retrying (failed, to be tried " +
			"again) and failed (refused for good or given up).",
	}, []string{"channel", "outcome"})
	dispatchLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "dispatch", Name: "delivery_latency_seconds",
		Help: "From the session event (created, answered, expired, cancelled) to its notification being " +
			"accepted by the channel, retries included, by channel.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600},
	}, []string{"channel"})
)

// dispatchChannels are the channel label values, shown from the first
// scrape so that rate() and alerts work before the first delivery.
var dispatchChannels = []string{"webhook", "telegram", "slack", "ntfy", "webpush"}

func init() {
	registry.MustRegister(dispatchDeliveries, dispatchLatency)
	for _, c := range dispatchChannels {
		for _, o := range []string{"delivered", "retrying", "failed"} {
			dispatchDeliveries.WithLabelValues(c, o)
		}
		dispatchLatency.WithLabelValues(c)
	}
}

// DispatchDelivered counts a notification a channel accepted, latency after
// the event it tells of.
func DispatchDelivered(channel string, latency time.Duration) {
	dispatchDeliveries.WithLabelValues(channel, "delivered").Inc()
	dispatchLatency.WithLabelValues(channel).Observe(max(latency, 0).Seconds())
}

// DispatchRetrying counts a failed attempt that will be made again.
func DispatchRetrying(channel string) { dispatchDeliveries.WithLabelValues(channel, "retrying").Inc() }

// DispatchFailed counts a notification refused for good or given up.
func DispatchFailed(channel string) { dispatchDeliveries.WithLabelValues(channel, "failed").Inc() }
