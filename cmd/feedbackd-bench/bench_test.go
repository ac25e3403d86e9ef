package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

const benchKey = "bench-key-0123456789abcdef0123456789abcdef"

// startServer runs feedbackd serve, the edge with the notifier on its
// address, and returns its base URL.
func startServer(t *testing.T) string {
	t.Helper()
	return programtest.MustRunMain(t, programtest.Env("API_KEYS", benchKey)).URL()
}

func bench(t *testing.T, args ...string) *result {
	t.Helper()
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newScenario(o)
	if err != nil {
		t.Fatal(err)
	}
	res := drive(context.Background(), o, sc)
	var out bytes.Buffer
	res.print(&out, o)
	t.Logf("\n%s", out.String())
	if strings.Contains(out.String(), benchKey) {
		t.Fatal("the report shows the API key")
	}
	return res
}

// count is how many times op succeeded.
func (res *result) count(op string) int {
	res.rec.mu.Lock()
	defer res.rec.mu.Unlock()
	if s := res.rec.ops[op]; s != nil {
		return len(s.lat)
	}
	return 0
}

func TestBenchRESTScenarioAgainstARealEdge(t *testing.T) {
	base := startServer(t)
	res := bench(t, "--url", base, "--api-key", benchKey, "--duration", "700ms", "--concurrency", "2")
	n := int(res.iterations.Load())
	if n == 0 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed", n, res.failed.Load())
	}
	for _, op := range []string{"create", "submit", "result", "iteration"} {
		if res.count(op) != n {
			t.Errorf("%s: %d, want %d", op, res.count(op), n)
		}
	}
}

func TestBenchOpenLoopKeepsTheRateAndTheCount(t *testing.T) {
	base := startServer(t)
	res := bench(t, "--url", base, "--api-key", benchKey, "--duration", "5s", "--concurrency", "4",
		"--rate", "50", "--max-iterations", "20")
	if res.iterations.Load() != 20 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed; want 20 and 0", res.iterations.Load(), res.failed.Load())
	}
	// 20 iterations at 50/s take about 0.4 s, not the 5 s allowed.
	if res.elapsed > 3*time.Second {
		t.Fatalf("run took %s after its iteration budget was spent", res.elapsed)
	}
}

func TestBenchWrongKeyIsCountedNotFatal(t *testing.T) {
	base := startServer(t)
	res := bench(t, "--url", base, "--api-key", "not-the-key", "--duration", "300ms", "--concurrency", "1")
	if res.iterations.Load() != 0 || res.failed.Load() == 0 {
		t.Fatalf("%d iterations, %d failed", res.iterations.Load(), res.failed.Load())
	}
	if res.rec.ops["create"].errs["HTTP 401 UNAUTHORIZED"] == 0 {
		t.Fatalf("errors: %v", res.rec.ops["create"].errs)
	}
}

func TestBenchMCPScenarioOverBothTransports(t *testing.T) {
	base := startServer(t)
	for _, sc := range []string{"mcp", "mcp-sse"} {
		t.Run(sc, func(t *testing.T) {
			res := bench(t, "--scenario", sc, "--url", base, "--api-key", benchKey, "--duration", "500ms", "--concurrency", "2")
			n := int(res.iterations.Load())
			if n == 0 || res.failed.Load() != 0 || res.setupErrs.Load() != 0 {
				t.Fatalf("%d iterations, %d failed, %d setup errors", n, res.failed.Load(), res.setupErrs.Load())
			}
			if res.count("mcp-connect") != 2 {
				t.Fatalf("one connect per worker: %d", res.count("mcp-connect"))
			}
			for _, op := range []string{"interactive_feedback", "submit", "get_feedback_result", "check_feedback_status"} {
				if res.count(op) != n {
					t.Errorf("%s: %d, want %d", op, res.count(op), n)
				}
			}
		})
	}
}

func TestBenchWSScenarioMeasuresEverySubscriber(t *testing.T) {
	base := startServer(t)
	res := bench(t, "--scenario", "ws", "--url", base, "--api-key", benchKey, "--duration", "500ms", "--concurrency", "2", "--subscribers", "3")
	n := int(res.iterations.Load())
	if n == 0 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed: %v", n, res.failed.Load(), res.rec.ops)
	}
	if res.count("ws-connect") != 3*n || res.count("ws-delivery") != 3*n {
		t.Fatalf("connects %d, deliveries %d, want %d each", res.count("ws-connect"), res.count("ws-delivery"), 3*n)
	}
}

func TestBenchOnlyTalksToTheGivenURL(t *testing.T) {
	o, err := parseFlags([]string{"--url", "http://127.0.0.1:1", "--api-key", benchKey}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(o)
	for _, u := range []string{"http://127.0.0.2:1/x", "https://127.0.0.1:1/x", "http://example.invalid/"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := c.http.Do(req); !errors.Is(err, errOffTarget) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, addr := range []string{"127.0.0.2:1", "example.invalid:80", "127.0.0.1:2"} {
		if _, err := c.dial(context.Background(), "tcp", addr); !errors.Is(err, errOffTarget) {
			t.Errorf("WebSocket dial to %s: %v, want refused", addr, err)
		}
	}
	for _, args := range [][]string{
		{"--api-key", "k", "--url", "ftp://127.0.0.1"},
		{"--api-key", "k", "--url", "http://127.0.0.1:8787/api"},
		{"--api-key", "k", "--duration", "11m"},
		{"--api-key", "k", "--rate", "-1"},
		{"--api-key", "k", "--concurrency", "0"},
		{"--api-key", ""},
		{"--api-key", "k", "--scenario", "rest", "extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestBenchScrubsTheKeyFromErrors(t *testing.T) {
	c := &client{apiKey: benchKey}
	err := c.scrub(errors.New(`failed to WebSocket dial: GET "ws://h/ws/x?apiKey=` + benchKey + `": refused`))
	if strings.Contains(err.Error(), benchKey) || !strings.Contains(err.Error(), "REDACTED") {
		t.Fatalf("scrubbed: %v", err)
	}
}
