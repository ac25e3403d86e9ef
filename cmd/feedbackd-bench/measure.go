package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

// measureOptions are the flags of `feedbackd-bench measure`.
type measureOptions struct {
	binary         string
	label          string
	rounds         int
	round          time.Duration
	only           map[string]bool
	submitCount    int
	waitIterations int
	sockets        int
	wsSessions     int
	burst          int
	burstSettle    time.Duration
	coldStarts     int
	profileDir     string
	logLevel       string
	serverLog      string
}

// measureScenarios are the scenarios of measure, in the order they run.
var measureScenarios = []string{"create", "status", "submit", "waits", "idle", "ws", "burst", "cold"}

// runMeasure is `feedbackd-bench measure`: it starts `feedbackd serve` (the
// binary given) and the HTTP floor as child processes, runs each scenario
// against both in alternating rounds, and prints the figures of docs/benchmarks.md
// with the ratios feedbackd/floor, the server CPU per request and the RSS
// read from /proc, and the load average of every round.
func runMeasure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseMeasureFlags(args, stderr)
	if err != nil {
		return err
	}
	m := &measurer{o: o, out: stdout}
	if o.serverLog != "" {
		f, err := os.Create(o.serverLog)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		defer f.Close()
		m.logTo = f
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return fmt.Errorf("profile directory: %w", err)
		}
	}
	fmt.Fprintf(stdout, "feedbackd-bench measure: %s (%s), %d rounds of %s, %d CPUs, load average %.2f\n",
		o.label, o.binary, o.rounds, o.round, runtime.NumCPU(), loadAvg())
	start := time.Now()
	err = m.run(ctx)
	fmt.Fprintf(stdout, "\n## %s: summary (medians over rounds; ratio = feedbackd / floor in the same rounds)\n\n", o.label)
	m.printSummary()
	fmt.Fprintf(stdout, "\nmeasured in %s; load average at the end %.2f\n", time.Since(start).Round(time.Second), loadAvg())
	return err
}

func parseMeasureFlags(args []string, stderr io.Writer) (measureOptions, error) {
	var o measureOptions
	var only string
	fs := flag.NewFlagSet("feedbackd-bench measure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.binary, "binary", "", "the feedbackd binary to start as `feedbackd serve` (required)")
	fs.StringVar(&o.label, "label", "", "name of this build in the report (default: the binary's file name)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per measure; each round runs feedbackd, then the floor")
	fs.DurationVar(&o.round, "round", 5*time.Second, "length of one timed round")
	fs.StringVar(&only, "only", strings.Join(measureScenarios, ","), "scenarios to run: "+strings.Join(measureScenarios, ","))
	fs.IntVar(&o.submitCount, "submit-count", 3000, "submit: answers per round (sessions created beforehand, untimed)")
	fs.IntVar(&o.waitIterations, "wait-iterations", 200, "waits: answers per kind of waiter")
	fs.IntVar(&o.sockets, "sockets", 10000, "ws: idle WebSockets")
	fs.IntVar(&o.wsSessions, "ws-sessions", 0, "ws: sessions the sockets follow (default: one each)")
	fs.IntVar(&o.burst, "burst", 10000, "burst: sessions created, waited on and answered")
	fs.DurationVar(&o.burstSettle, "burst-settle", 35*time.Second, "burst: how long after the burst RSS is read")
	fs.IntVar(&o.coldStarts, "cold-starts", 10, "cold: process starts")
	fs.StringVar(&o.profileDir, "profile", "", "directory for pprof profiles of serve (CPU and allocations under create and submit, heap with the ws sockets); the server serves /debug/pprof on METRICS_ADDR with DEBUG_PPROF=true")
	fs.StringVar(&o.logLevel, "log-level", "info", "LOG_LEVEL of the server (info: one access line per request, as by default)")
	fs.StringVar(&o.serverLog, "server-log", "", "file for the servers' logs (default: discarded)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.binary == "" {
		return o, errors.New("--binary is required: a built feedbackd (go build -o /tmp/feedbackd ./cmd/feedbackd)")
	}
	if abs, err := filepath.Abs(o.binary); err == nil {
		o.binary = abs
	}
	if st, err := os.Stat(o.binary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return o, fmt.Errorf("--binary %q is not an executable file", o.binary)
	}
	if o.label == "" {
		o.label = filepath.Base(o.binary)
	}
	o.only = map[string]bool{}
	for s := range strings.SplitSeq(only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(measureScenarios, s) {
			return o, fmt.Errorf("--only: unknown scenario %q (want %s)", s, strings.Join(measureScenarios, ","))
		}
		o.only[s] = true
	}
	switch {
	case o.rounds < 1 || o.rounds > 20:
		return o, errors.New("--rounds must be 1 to 20")
	case o.round < 500*time.Millisecond || o.round > maxDuration:
		return o, fmt.Errorf("--round must be 500ms to %s", maxDuration)
	case o.submitCount < 10 || o.submitCount > 100000:
		return o, errors.New("--submit-count must be 10 to 100000")
	case o.waitIterations < 1 || o.waitIterations > 10000:
		return o, errors.New("--wait-iterations must be 1 to 10000")
	case o.sockets < 1 || o.sockets > 50000:
		return o, errors.New("--sockets must be 1 to 50000")
	case o.wsSessions < 0 || o.wsSessions > o.sockets:
		return o, errors.New("--ws-sessions must be 0 to --sockets")
	case o.burst < 1 || o.burst > 100000:
		return o, errors.New("--burst must be 1 to 100000")
	case o.coldStarts < 1 || o.coldStarts > 50:
		return o, errors.New("--cold-starts must be 1 to 50")
	}
	if o.wsSessions == 0 {
		o.wsSessions = o.sockets
	}
	return o, nil
}

// measurer runs the scenarios and keeps the summary rows.
type measurer struct {
	o     measureOptions
	out   io.Writer
	logTo io.Writer
	rows  [][4]string // measure, feedbackd, floor, ratio
}

func (m *measurer) row(measure, fd, floor, ratio string) {
	m.rows = append(m.rows, [4]string{measure, fd, floor, ratio})
}

func (m *measurer) printSummary() {
	fmt.Fprintf(m.out, "| measure | %s | HTTP floor | ratio |\n|---|---|---|---|\n", m.o.label)
	for _, r := range m.rows {
		fmt.Fprintf(m.out, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
}

func (m *measurer) serve(ctx context.Context, profile bool) (*child, error) {
	logTo := m.logTo
	if logTo == nil {
		logTo = io.Discard
	}
	return startServe(ctx, serveOptions{binary: m.o.binary, logLevel: m.o.logLevel, profile: profile, logTo: logTo})
}

func (m *measurer) run(ctx context.Context) error {
	var errs []error
	if m.o.only["create"] || m.o.only["status"] || m.o.only["submit"] || m.o.only["waits"] {
		if err := m.runHTTP(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sc := range []struct {
		name string
		run  func(context.Context) error
	}{{"idle", m.runIdle}, {"ws", m.runWS}, {"burst", m.runBurst}, {"cold", m.runCold}} {
		if !m.o.only[sc.name] || ctx.Err() != nil {
			continue
		}
		if err := sc.run(ctx); err != nil {
			fmt.Fprintf(m.out, "%s: %v\n", sc.name, err)
			errs = append(errs, fmt.Errorf("%s: %w", sc.name, err))
		}
	}
	return errors.Join(errs...)
}

// runHTTP runs the request scenarios against one feedbackd and one floor.
func (m *measurer) runHTTP(ctx context.Context) error {
	fd, err := m.serve(ctx, m.o.profileDir != "")
	if err != nil {
		return err
	}
	defer fd.stop()
	floor, err := startFloor(ctx)
	if err != nil {
		return err
	}
	defer floor.stop()
	fmt.Fprintf(m.out, "feedbackd pid %d at %s (ready %s after start), floor pid %d at %s\n",
		fd.pid(), fd.url, fd.ready.Sub(fd.started).Round(time.Millisecond), floor.pid(), floor.url)

	var errs []error
	if m.o.only["create"] {
		errs = append(errs, m.requestScenario(ctx, fd, floor, "create", func(srv *child, conc int) (load, error) {
			return load{conc: conc, dur: m.o.round, next: createRequest}, nil
		}))
	}
	if m.o.only["status"] {
		ids, err := createSessions(ctx, fd, 100, 8, 3600)
		if err != nil {
			return fmt.Errorf("status: create sessions: %w", err)
		}
		errs = append(errs, m.requestScenario(ctx, fd, floor, "status", func(srv *child, conc int) (load, error) {
			return load{conc: conc, dur: m.o.round, next: func(i int64) request {
				return request{method: "GET", path: "/api/feedback/" + ids[i%int64(len(ids))] + "/status", auth: true, want: 200}
			}}, nil
		}))
	}
	if m.o.only["submit"] {
		errs = append(errs, m.requestScenario(ctx, fd, floor, "submit", func(srv *child, conc int) (load, error) {
			ids := make([]string, m.o.submitCount)
			if srv == fd {
				var err error
				if ids, err = createSessions(ctx, fd, m.o.submitCount, 8, 3600); err != nil {
					return load{}, fmt.Errorf("create sessions to answer: %w", err)
				}
			} else {
				for i := range ids {
					ids[i] = "00000000-0000-4000-8000-000000000000"
				}
			}
			return load{conc: conc, count: int64(len(ids)), next: func(i int64) request { return submitRequest(ids[i]) }}, nil
		}))
	}
	if m.o.only["waits"] {
		errs = append(errs, m.runWaits(ctx, fd))
	}
	if m.o.profileDir != "" && m.o.only["create"] {
		errs = append(errs, m.profile(ctx, fd, "create", load{conc: 8, dur: m.o.round, next: createRequest}))
	}
	if m.o.profileDir != "" && m.o.only["submit"] {
		// More sessions than a round can answer: the load ends with the
		// round, not with the sessions.
		ids, err := createSessions(ctx, fd, 4*m.o.submitCount, 8, 3600)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("profile submit: %w", err))...)
		}
		errs = append(errs, m.profile(ctx, fd, "submit", load{conc: 8, dur: m.o.round, count: int64(len(ids)),
			next: func(i int64) request { return submitRequest(ids[i]) }}))
	}
	return errors.Join(errs...)
}

// requestScenario runs one kind of request at concurrency 1, 8 and 32,
// alternating feedbackd and the floor in every round, and adds the summary
// rows.
func (m *measurer) requestScenario(ctx context.Context, fd, floor *child, name string, mk func(srv *child, conc int) (load, error)) error {
	fmt.Fprintf(m.out, "\n### %s\n", name)
	type series struct{ fd, floor []loadResult }
	byConc := map[int]*series{}
	concs := []int{1, 8, 32}
	for round := 1; round <= m.o.rounds; round++ {
		for _, conc := range concs {
			s := byConc[conc]
			if s == nil {
				s = &series{}
				byConc[conc] = s
			}
			for _, srv := range []*child{fd, floor} {
				l, err := mk(srv, conc)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				res, err := l.run(ctx, srv)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				m.printRound(name, round, conc, srv, res)
				if srv == fd {
					s.fd = append(s.fd, res)
				} else {
					s.floor = append(s.floor, res)
				}
			}
		}
	}
	one := byConc[1]
	p50 := func(r loadResult) float64 { return ms(stats.Percentile(r.lat, .50)) }
	p99 := func(r loadResult) float64 { return ms(stats.Percentile(r.lat, .99)) }
	fp50, lp50 := medianOf(one.fd, p50), medianOf(one.floor, p50)
	fp99, lp99 := medianOf(one.fd, p99), medianOf(one.floor, p99)
	m.row(name+", concurrency 1: p50 / p99", fmt.Sprintf("%.2f / %.2f ms", fp50, fp99), fmt.Sprintf("%.2f / %.2f ms", lp50, lp99),
		fmt.Sprintf("%.1f× / %.1f×", fp50/lp50, fp99/lp99))
	for _, conc := range concs {
		s := byConc[conc]
		cpu := func(r loadResult) float64 { return float64(r.cpuPerRequest().Microseconds()) }
		fc, lc := medianOf(s.fd, cpu), medianOf(s.floor, cpu)
		m.row(fmt.Sprintf("%s, server CPU per request, concurrency %d", name, conc), fmt.Sprintf("%.0f µs", fc), fmt.Sprintf("%.0f µs", lc), fmt.Sprintf("%.1f×", fc/lc))
	}
	for _, conc := range concs[1:] {
		s := byConc[conc]
		rate := func(r loadResult) float64 { return r.perSecond() }
		fr, lr := medianOf(s.fd, rate), medianOf(s.floor, rate)
		m.row(fmt.Sprintf("%s throughput, concurrency %d", name, conc), fmt.Sprintf("%.0f req/s", fr), fmt.Sprintf("%.0f req/s", lr), fmt.Sprintf("%.2f", fr/lr))
	}
	load := func(r loadResult) float64 { return (r.loadBefore + r.loadAfter) / 2 }
	var all []loadResult
	for _, s := range byConc {
		all = append(all, s.fd...)
		all = append(all, s.floor...)
	}
	m.row(name+": load average during the rounds (median)", fmt.Sprintf("%.2f", medianOf(all, load)), "", "")
	return nil
}

func (m *measurer) printRound(name string, round, conc int, srv *child, r loadResult) {
	fmt.Fprintf(m.out, "%-7s round %d  c=%-2d  %-9s  %6d ok %3d err  %8.0f req/s  p50 %6.2f  p99 %6.2f ms  CPU %5d µs/req  RSS %5.1f MiB  load %.2f→%.2f\n",
		name, round, conc, srv.name, r.ok, r.failed, r.perSecond(), ms(stats.Percentile(r.lat, .5)), ms(stats.Percentile(r.lat, .99)),
		r.cpuPerRequest().Microseconds(), mib(r.rss), r.loadBefore, r.loadAfter)
	if r.firstErr != nil {
		fmt.Fprintf(m.out, "        first error: %v\n", r.firstErr)
	}
}

// medianOf is the median of f over rs.
func medianOf(rs []loadResult, f func(loadResult) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
