package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

func TestMetricsSessionsCountsEachKindOfTransition(t *testing.T) {
	created := testutil.ToFloat64(sessionsCreated)
	completed := testutil.ToFloat64(sessionsFinished.WithLabelValues("completed"))
	expired := testutil.ToFloat64(sessionsFinished.WithLabelValues("expired"))
	cancelled := testutil.ToFloat64(sessionsFinished.WithLabelValues("cancelled"))
	answers := histCount(t, "feedbackd_sessions_time_to_answer_seconds")
	late := histCount(t, "feedbackd_sessions_expiry_lateness_seconds")

	var s Sessions
	s.SessionCreated()
	s.SessionCreated()
	s.SessionCompleted(42 * time.Second)
	s.SessionExpired(150 * time.Millisecond)
	s.SessionCancelled()

	check := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("created", testutil.ToFloat64(sessionsCreated), created+2)
	check("completed", testutil.ToFloat64(sessionsFinished.WithLabelValues("completed")), completed+1)
	check("expired", testutil.ToFloat64(sessionsFinished.WithLabelValues("expired")), expired+1)
	check("cancelled", testutil.ToFloat64(sessionsFinished.WithLabelValues("cancelled")), cancelled+1)
	check("time to answer observations", histCount(t, "feedbackd_sessions_time_to_answer_seconds"), answers+1)
	check("lateness observations", histCount(t, "feedbackd_sessions_expiry_lateness_seconds"), late+1)
}

func TestMetricsGaugesGoUpAndDown(t *testing.T) {
	waits := testutil.ToFloat64(waitsInFlight)
	done := Sessions{}.WaitStarted()
	done2 := WaitStarted()
	if got := testutil.ToFloat64(waitsInFlight); got != waits+2 {
		t.Fatalf("waits in flight: %v, want %v", got, waits+2)
	}
	done()
	done2()
	if got := testutil.ToFloat64(waitsInFlight); got != waits {
		t.Fatalf("waits after done: %v, want %v", got, waits)
	}

	conns, drops := testutil.ToFloat64(wsConnections), testutil.ToFloat64(wsDrops)
	closed := WSConnected()
	if got := testutil.ToFloat64(wsConnections); got != conns+1 {
		t.Fatalf("ws connections: %v", got)
	}
	WSDropped()
	closed()
	if testutil.ToFloat64(wsConnections) != conns || testutil.ToFloat64(wsDrops) != drops+1 {
		t.Fatalf("after drop: connections %v drops %v", testutil.ToFloat64(wsConnections), testutil.ToFloat64(wsDrops))
	}
}

func TestMetricsHTTPRequestsAreLabelledByRouteMethodStatus(t *testing.T) {
	c := httpRequests.WithLabelValues("/api/feedback/:id/status", "GET", "404")
	before := testutil.ToFloat64(c)
	done := HTTPStarted()
	if testutil.ToFloat64(httpInFlight) < 1 {
		t.Fatal("request not in flight")
	}
	done("/api/feedback/:id/status", "GET", 404)
	if got := testutil.ToFloat64(c); got != before+1 {
		t.Fatalf("requests: %v, want %v", got, before+1)
	}
}

func TestMetricsNATSConnectedFollowsTheConnection(t *testing.T) {
	if err := testutil.GatherAndCompare(Gatherer(), strings.NewReader(""), "feedbackd_nats_connected"); err != nil {
		t.Fatalf("no series before a connection is tracked: %v", err)
	}
	ns := natstest.Start(t)
	nc, _ := ns.Connect(t)
	untrack := TrackNATS(nc)
	defer untrack()
	want := func(v string) {
		t.Helper()
		exp := "# HELP feedbackd_nats_connected 1 when every NATS connection of this process is connected, 0 while any is disconnected or reconnecting.\n" +
			"# TYPE feedbackd_nats_connected gauge\nfeedbackd_nats_connected " + v + "\n"
		if err := testutil.GatherAndCompare(Gatherer(), strings.NewReader(exp), "feedbackd_nats_connected"); err != nil {
			t.Fatal(err)
		}
	}
	want("1")
	ns.Shutdown()
	ns.WaitForShutdown()
	poll.Until(t, 5*time.Second, poll.True("the connection to notice", func() bool { return !nc.IsConnected() }))
	want("0")
}

func TestMetricsHandlerServesTextFormat(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, name := range []string{
		"feedbackd_sessions_finished_total{status=\"expired\"}",
		"feedbackd_sessions_waits_in_flight",
		"feedbackd_websocket_connections",
		"go_goroutines",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

// histCount is the number of observations of the histogram called name.
func histCount(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return float64(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestMetricsDispatchCountsOutcomesPerChannel(t *testing.T) {
	delivered := dispatchDeliveries.WithLabelValues("slack", "delivered")
	retrying := dispatchDeliveries.WithLabelValues("slack", "retrying")
	failed := dispatchDeliveries.WithLabelValues("webhook", "failed")
	d, r, f := testutil.ToFloat64(delivered), testutil.ToFloat64(retrying), testutil.ToFloat64(failed)
	DispatchDelivered("slack", 120*time.Millisecond)
	DispatchRetrying("slack")
	DispatchFailed("webhook")
	if testutil.ToFloat64(delivered) != d+1 || testutil.ToFloat64(retrying) != r+1 || testutil.ToFloat64(failed) != f+1 {
		t.Fatal("dispatch counters did not move")
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, s := range []string{`feedbackd_dispatch_deliveries_total{channel="ntfy",outcome="failed"} 0`,
		`feedbackd_dispatch_delivery_latency_seconds_count{channel="slack"}`} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("scrape lacks %s", s)
		}
	}
}

func TestMetricsListenersAreAddedUpByName(t *testing.T) {
	a := TrackListener("test-edge", func() ListenerStats { return ListenerStats{Open: 2, Max: 10, Accepted: 5, Refused: 1, AcceptErrors: 3} })
	b := TrackListener("test-edge", func() ListenerStats { return ListenerStats{Open: 1, Max: 10, Accepted: 1} })
	exp := `# HELP feedbackd_listener_connections Connections open now on a listening socket (edge, notifier, ops).
# TYPE feedbackd_listener_connections gauge
feedbackd_listener_connections{listener="test-edge"} 3
# HELP feedbackd_listener_refused_total Connections refused with 503 because the listener was at its cap.
# TYPE feedbackd_listener_refused_total counter
feedbackd_listener_refused_total{listener="test-edge"} 1
`
	if err := testutil.GatherAndCompare(Gatherer(), strings.NewReader(exp), "feedbackd_listener_connections", "feedbackd_listener_refused_total"); err != nil {
		t.Fatal(err)
	}
	a()
	b()
	b()
	if err := testutil.GatherAndCompare(Gatherer(), strings.NewReader(""), "feedbackd_listener_connections"); err != nil {
		t.Fatalf("series left after untracking: %v", err)
	}
}
