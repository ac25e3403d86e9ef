package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "feedbackd"

// registry holds only what this package declares, plus the Go runtime and
// process collectors, so one scrape shows one process.
var registry = prometheus.NewRegistry()

// HTTP.
var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help: "Time from reading a request to handing its response to the server, by route pattern and method. " +
			"Long polls and MCP waits count their wait.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"route", "method"})
	httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being handled now.",
	})
)

// Sessions: transitions made by this process (see Sessions).
var (
	sessionsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "sessions", Name: "created_total",
		Help: "Sessions created by this process.",
	})
	sessionsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "sessions", Name: "finished_total",
		Help: "Transitions out of pending won by this process, by new status (completed, expired, cancelled). " +
			"Summed over all processes this counts every session once.",
	}, []string{"status"})
	timeToAnswer = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "sessions", Name: "time_to_answer_seconds",
		Help:    "From creation to the person's answer, for answers recorded by this process.",
		Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600},
	})
	expiryLateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "sessions", Name: "expiry_lateness_seconds",
		Help: "How long after its deadline a session was marked expired, for expiries made by this process " +
			"(by the expirer, or by a reader that met a due session first).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	waitsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "sessions", Name: "waits_in_flight",
		Help: "Callers waiting for an answer now (REST ?wait= long polls and MCP tool calls).",
	})
)

// WebSocket.
var (
	wsConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "websocket", Name: "connections",
		Help: "WebSocket connections open now.",
	})
	wsDrops = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "websocket", Name: "drops_total",
		Help: "WebSocket connections closed by the server because the client was too slow or stopped answering.",
	})
)

func init() {
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		httpRequests, httpDuration, httpInFlight,
		sessionsCreated, sessionsFinished, timeToAnswer, expiryLateness, waitsInFlight,
		wsConnections, wsDrops,
		natsCollector, listenerCollector,
	)
	// Show every status from the first scrape, so that rate() and alerts
	// work before the first transition of each kind.
	for _, s := range []string{"completed", "expired", "cancelled"} {
		sessionsFinished.WithLabelValues(s)
	}
}

// Gatherer returns the registry, for tests and for anyone composing it with
// other registries.
func Gatherer() prometheus.Gatherer { return registry }

// Handler serves the registry in the Prometheus text (or negotiated) format.
func Handler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{
		// A failing collector should not hide all the others.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// HTTPStarted records that a request is being handled. Call the returned
// func with its route pattern (never the raw path), method and status when
// the response is ready.
func HTTPStarted() (done func(route, method string, status int)) {
	start := time.Now()
	httpInFlight.Inc()
	return func(route, method string, status int) {
		httpInFlight.Dec()
		httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	}
}

// WaitStarted records a caller waiting for an answer; call done when the wait
// ends, however it ends.
func WaitStarted() (done func()) {
	waitsInFlight.Inc()
	return waitsInFlight.Dec
}

// WSConnected records an open WebSocket connection; call done when it closes,
// however it closes.
func WSConnected() (done func()) {
	wsConnections.Inc()
	return wsConnections.Dec
}

// WSDropped records a WebSocket connection the server closed because the
// client fell behind or stopped answering pings. Call it in addition to the
// done func of WSConnected.
func WSDropped() { wsDrops.Inc() }
