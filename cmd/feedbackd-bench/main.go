// Command feedbackd-bench loads a feedbackd server and reports throughput and
// latency percentiles per operation. It only ever sends traffic to the base
// URL it is given (default http://127.0.0.1:8787), never follows redirects
// or links elsewhere, and stops by itself after --duration or
// --max-iterations, whichever comes first.
//
// Scenarios (one iteration each):
//
//	rest      create → submit → result over the REST API
//	mcp       interactive_feedback (waitSeconds 0) → REST submit →
//	          get_feedback_result → check_feedback_status, over Streamable HTTP (/mcp)
//	mcp-sse   the same over the HTTP+SSE transport (/sse)
//	ws        create, --subscribers WebSocket clients on /ws/{id}, submit,
//	          time until each subscriber is told
//
// Usage:
//
//	feedbackd-bench --scenario rest --api-key "$(cat data/api-key)" --duration 20s --concurrency 8
//	feedbackd-bench --scenario rest --rate 200 ...   # open loop: 200 iterations/s
//
// Cost per operation against the HTTP floor (docs/benchmarks.md): measure
// starts `feedbackd serve` from the binary given, on a fresh data directory,
// and a bare net/http server (`feedbackd-bench floor`), both as child
// processes on loopback, and runs each scenario against both in alternating
// rounds, reading their CPU time and memory from /proc:
//
//	feedbackd-bench measure --binary /tmp/feedbackd [--only create,status,...] [--profile DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Hard limits, so that a typo cannot turn a benchmark into a flood.
const (
	maxDuration    = 10 * time.Minute
	maxConcurrency = 1024
	maxRate        = 20000
	maxSubscribers = 1000
)

type options struct {
	URL           string
	APIKey        string
	Scenario      string
	Duration      time.Duration
	Concurrency   int
	Rate          float64
	MaxIterations int64
	Timeout       time.Duration
	Subscribers   int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "feedbackd-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "measure":
			return runMeasure(ctx, args[1:], stdout, stderr)
		case "floor":
			return runFloor(args[1:], stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	sc, err := newScenario(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "feedbackd-bench: scenario %s against %s, %s, concurrency %d, %s\n",
		o.Scenario, o.URL, o.Duration, o.Concurrency, loopMode(o.Rate))
	res := drive(ctx, o, sc)
	res.print(stdout, o)
	if res.iterations.Load() == 0 {
		return errors.New("no iteration succeeded")
	}
	return nil
}

func loopMode(rate float64) string {
	if rate > 0 {
		return fmt.Sprintf("open loop at %g iterations/s", rate)
	}
	return "closed loop"
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("feedbackd-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8787", "base URL of the server; the only address traffic is sent to")
	fs.StringVar(&o.APIKey, "api-key", os.Getenv("FEEDBACKD_API_KEY"), "API key (default $FEEDBACKD_API_KEY)")
	fs.StringVar(&o.Scenario, "scenario", "rest", "rest, mcp, mcp-sse or ws")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send new iterations (at most 10m)")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "workers; in open loop, the most iterations in flight")
	fs.Float64Var(&o.Rate, "rate", 0, "iterations per second, open loop; 0 = closed loop (each worker starts the next when one ends)")
	fs.Int64Var(&o.MaxIterations, "max-iterations", 1_000_000, "stop after this many iterations even if time is left")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout of each request or wait")
	fs.IntVar(&o.Subscribers, "subscribers", 10, "ws: WebSocket subscribers per session")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return o, fmt.Errorf("--url %q must be a base URL like http://127.0.0.1:8787", o.URL)
	}
	o.URL = u.Scheme + "://" + u.Host
	switch {
	case o.APIKey == "":
		return o, errors.New("--api-key (or FEEDBACKD_API_KEY) is required")
	case o.Duration <= 0 || o.Duration > maxDuration:
		return o, fmt.Errorf("--duration must be in (0, %s]", maxDuration)
	case o.Concurrency < 1 || o.Concurrency > maxConcurrency:
		return o, fmt.Errorf("--concurrency must be 1 to %d", maxConcurrency)
	case o.Rate < 0 || o.Rate > maxRate:
		return o, fmt.Errorf("--rate must be 0 to %d", maxRate)
	case o.MaxIterations < 1:
		return o, errors.New("--max-iterations must be at least 1")
	case o.Timeout <= 0:
		return o, errors.New("--timeout must be positive")
	case o.Subscribers < 1 || o.Subscribers > maxSubscribers:
		return o, fmt.Errorf("--subscribers must be 1 to %d", maxSubscribers)
	}
	return o, nil
}

// scenario makes workers; a worker runs iterations one at a time.
type scenario interface {
	// newWorker prepares one worker (an MCP session, say); close releases it.
	newWorker(ctx context.Context, rec *recorder) (w worker, close func(), err error)
}

// worker runs one iteration, recording its operations in rec. ctx bounds
// the whole iteration.
type worker func(ctx context.Context, rec *recorder, n int64) error

func newScenario(o options) (scenario, error) {
	c := newClient(o)
	switch o.Scenario {
	case "rest":
		return &restScenario{c: c}, nil
	case "mcp":
		return &mcpScenario{c: c, sse: false}, nil
	case "mcp-sse":
		return &mcpScenario{c: c, sse: true}, nil
	case "ws":
		return &wsScenario{c: c, subscribers: o.Subscribers}, nil
	}
	return nil, fmt.Errorf("--scenario %q: want rest, mcp, mcp-sse or ws", o.Scenario)
}
