// Command feedbackd-expirebench measures the expirer under load: it writes N pending
// sessions whose deadlines are spread over a window, runs one and then three
// expirer replicas, and reports how late the expiries were written and what
// the expirers cost in CPU and memory.
//
// The parent process runs an embedded NATS server, writes the sessions and
// watches the change feed; every expirer replica is a child process (this
// binary with -child), so its CPU time and peak memory are its own.
//
//	go run ./cmd/feedbackd-expirebench -n 100000 -spread 1m -replicas 1,3
//
// Lateness is the stream timestamp of the "expired" record minus the
// session's deadline: when the expiry was written, as every reader sees it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/expirer"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/stats"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

func main() {
	var o options
	flag.IntVar(&o.n, "n", 100_000, "pending sessions to write")
	flag.DurationVar(&o.spread, "spread", time.Minute, "window the deadlines are spread over")
	flag.DurationVar(&o.lead, "lead", 0, "time from the start of writing to the first deadline; 0 = estimate from a short write")
	flag.StringVar(&o.replicas, "replicas", "1,3", "comma-separated expirer replica counts, one run each")
	flag.IntVar(&o.workers, "workers", 32, "expirer workers per consumer per replica")
	flag.IntVar(&o.writers, "writers", 64, "concurrent session writers")
	child := flag.Bool("child", false, "run one expirer replica (used by the parent)")
	natsURL := flag.String("nats", "", "NATS URL (with -child)")
	flag.Parse()

	var err error
	if *child {
		err = runChild(*natsURL, o.workers)
	} else {
		err = runParent(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "expirebench:", err)
		os.Exit(1)
	}
}

type options struct {
	n                int
	spread, lead     time.Duration
	replicas         string
	workers, writers int
}

// childReport is what a replica prints when it stops.
type childReport struct {
	Expired       int64  `json:"expired"`
	PeakRSSKiB    int64  `json:"peakRSSKiB"`
	PeakHeapBytes uint64 `json:"peakHeapBytes"`
	SysBytes      uint64 `json:"sysBytes"`
	NumGC         uint32 `json:"numGC"`
	// FiredMicros: when NATS published each expiry request, after the
	// deadline; HandledMicros: when this replica wrote the expiry, after the
	// request. Both from the expirer's debug record of each expiry.
	FiredMicros   []int64 `json:"firedMicros"`
	HandledMicros []int64 `json:"handledMicros"`
}

// runChild runs one expirer replica until SIGTERM, then prints its report.
func runChild(url string, workers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	nc, err := natsutil.Connect(natsutil.ClientConfig{URL: url, Name: "expirebench-replica"})
	if err != nil {
		return err
	}
	defer nc.Close()
	counter := &expiryCounter{}
	log := slog.New(counter)
	// The backend a feedbackd expirer replica opens, as it opens it.
	cfg := program.DefaultConfig()
	cfg.ResultRetention = time.Hour
	be, err := program.OpenBackend(ctx, cfg, nc, log)
	if err != nil {
		return err
	}
	defer be.Close()

	var peak atomic.Uint64
	sampled := make(chan struct{})
	sctx, cancelSample := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-sctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()

	fmt.Println("ready")
	err = expirer.Run(ctx, expirer.Config{JetStream: be.JetStream(), Store: be.Store(), Service: be.Service(), Log: log, Workers: workers})
	cancelSample()
	<-sampled
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fired, handled := counter.split()
	rep := childReport{
		Expired: int64(len(fired)), PeakRSSKiB: peakRSS(), PeakHeapBytes: max(peak.Load(), ms.HeapAlloc),
		SysBytes: ms.Sys, NumGC: ms.NumGC, FiredMicros: fired, HandledMicros: handled,
	}
	if jerr := json.NewEncoder(os.Stdout).Encode(rep); jerr != nil {
		return jerr
	}
	return err
}

// peakRSS reads the process's own peak resident set (VmHWM). The rusage a
// parent gets for its child is no good here: Linux carries the parent's peak
// across the fork and exec into the child's ru_maxrss.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

// expiryCounter is a slog handler that keeps the expirer's "session
// expired" records (its only per-expiry signal) and prints warnings and
// errors.
type expiryCounter struct {
	mu             sync.Mutex
	fired, handled []int64
}

func (c *expiryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *expiryCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "session expired" {
		if r.Level >= slog.LevelWarn {
			fmt.Fprintln(os.Stderr, "replica:", r.Level, r.Message)
		}
		return nil
	}
	var requested, late time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "requested":
			requested = a.Value.Duration()
		case "late":
			late = a.Value.Duration()
		}
		return true
	})
	c.mu.Lock()
	c.fired = append(c.fired, requested.Microseconds())
	c.handled = append(c.handled, (late - requested).Microseconds())
	c.mu.Unlock()
	return nil
}
func (c *expiryCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *expiryCounter) WithGroup(string) slog.Handler      { return c }

func (c *expiryCounter) split() (fired, handled []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.fired), slices.Clone(c.handled)
}

func runParent(o options) error {
	var counts []int
	for _, s := range strings.Split(o.replicas, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			return fmt.Errorf("-replicas %q: want counts like 1,3", o.replicas)
		}
		counts = append(counts, k)
	}
	fmt.Printf("expirebench: %d sessions, deadlines over %s, %d workers per consumer, GOMAXPROCS %d, %d CPUs\n",
		o.n, o.spread, o.workers, runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, k := range counts {
		r, err := runOnce(o, k)
		if err != nil {
			return fmt.Errorf("%d replica(s): %w", k, err)
		}
		r.print()
	}
	return nil
}

// result is one run's figures.
type result struct {
	replicas      int
	n             int
	writeTime     time.Duration
	writtenLate   int // sessions written after their own deadline
	lateness      []time.Duration
	duplicates    int
	replicaCPU    []time.Duration
	replicaReport []childReport
	wall          time.Duration
}

func runOnce(o options, k int) (*result, error) {
	dir, err := os.MkdirTemp("", "expirebench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Listen: addr, Name: "expirebench"})
	if err != nil {
		return nil, err
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	nc, err := natsutil.Connect(natsutil.ClientConfig{Embedded: srv, Name: "expirebench"})
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		return nil, err
	}

	watch, err := watchExpiries(ctx, store, o.n)
	if err != nil {
		return nil, err
	}

	kids, err := startReplicas(k, srv.ClientURL(), o.workers)
	if err != nil {
		return nil, err
	}
	defer kids.kill()

	lead := o.lead
	if lead == 0 {
		// Time a small batch so that writing ends before the first deadline.
		// The batch's deadlines are an hour away: it never expires here.
		probe := min(2000, o.n/10+1)
		start := time.Now()
		if err := writeSessions(ctx, store, probe, time.Now().Add(time.Hour), 0, o.writers, nil); err != nil {
			return nil, err
		}
		perSession := time.Since(start) / time.Duration(probe)
		lead = perSession*time.Duration(o.n)*3/2 + 5*time.Second
		fmt.Printf("  %d replica(s): writing takes ~%s per session; first deadline %s after writing starts\n", k, perSession, lead.Round(time.Second))
	}

	begin := time.Now()
	first := begin.Add(lead)
	var late atomic.Int64
	if err := writeSessions(ctx, store, o.n, first, o.spread, o.writers, &late); err != nil {
		return nil, err
	}
	writeTime := time.Since(begin)

	waitFor := time.Until(first.Add(o.spread)) + 2*time.Minute
	if err := watch.wait(waitFor); err != nil {
		return nil, err
	}
	wall := time.Since(begin)
	reports, cpu, err := kids.stop()
	if err != nil {
		return nil, err
	}
	lat, dups := watch.results()
	return &result{
		replicas: k, n: o.n, writeTime: writeTime, writtenLate: int(late.Load()),
		lateness: lat, duplicates: dups, replicaCPU: cpu, replicaReport: reports, wall: wall,
	}, nil
}

// writeSessions writes n pending sessions straight through the store, with
// deadlines uniformly random in [first, first+spread]. late counts those
// written after their own deadline.
func writeSessions(ctx context.Context, store *natskv.Store, n int, first time.Time, spread time.Duration, writers int, late *atomic.Int64) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				now := time.Now().UTC().Truncate(time.Millisecond)
				deadline := first
				if spread > 0 {
					deadline = first.Add(time.Duration(rand.Int64N(int64(spread))))
				}
				deadline = deadline.UTC().Truncate(time.Millisecond)
				s := &sessions.Session{
					ID: sessions.NewID(), Owner: "expirebench", Message: "Ship it?",
					Status: sessions.StatusPending, CreatedAt: now, ExpiresAt: deadline,
					Timeout: int(deadline.Sub(now) / time.Second),
				}
				if _, err := store.Create(ctx, s, deadline.Sub(now)+time.Hour); err != nil {
					errs <- fmt.Errorf("write session: %w", err)
					return
				}
				if late != nil && time.Now().After(deadline) {
					late.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// expiryWatch follows the change feed and records, for every session that
// expires, the expiry's stream timestamp minus its deadline.
type expiryWatch struct {
	mu       sync.Mutex
	want     int
	lateness []time.Duration
	seen     map[string]bool
	dups     int
	done     chan struct{}
	closed   bool
}

func watchExpiries(ctx context.Context, store *natskv.Store, want int) (*expiryWatch, error) {
	w, err := store.KV().Watch(ctx, natskv.SessionKey("*"), jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch sessions: %w", err)
	}
	ew := &expiryWatch{want: want, seen: make(map[string]bool, want), done: make(chan struct{})}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				s, err := natskv.Decode(e.Value(), e.Revision())
				if err != nil || s.Status != sessions.StatusExpired {
					continue
				}
				ew.record(s, e.Created().Sub(s.ExpiresAt))
			}
		}
	}()
	return ew, nil
}

func (ew *expiryWatch) record(s *sessions.Session, late time.Duration) {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.seen[s.ID] {
		ew.dups++
		return
	}
	ew.seen[s.ID] = true
	ew.lateness = append(ew.lateness, late)
	if len(ew.lateness) == ew.want && !ew.closed {
		ew.closed = true
		close(ew.done)
	}
}

func (ew *expiryWatch) wait(d time.Duration) error {
	select {
	case <-ew.done:
		time.Sleep(2 * time.Second) // let a duplicate show, were there one
		return nil
	case <-time.After(d):
		ew.mu.Lock()
		defer ew.mu.Unlock()
		return fmt.Errorf("only %d of %d sessions expired within %s", len(ew.lateness), ew.want, d.Round(time.Second))
	}
}

func (ew *expiryWatch) results() ([]time.Duration, int) {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return slices.Clone(ew.lateness), ew.dups
}

// replicas are the child processes running expirers.
type replicas struct {
	cmds []*exec.Cmd
	outs []*bufio.Reader
}

func startReplicas(k int, url string, workers int) (*replicas, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &replicas{}
	for range k {
		cmd := exec.Command(self, "-child", "-nats", url, "-workers", strconv.Itoa(workers))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			r.kill()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			r.kill()
			return nil, fmt.Errorf("start replica: %w", err)
		}
		r.cmds = append(r.cmds, cmd)
		br := bufio.NewReader(out)
		r.outs = append(r.outs, br)
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			r.kill()
			return nil, fmt.Errorf("replica did not start: %q %v", line, err)
		}
	}
	return r, nil
}

// stop ends every replica with SIGTERM and collects its report and CPU time.
func (r *replicas) stop() (reports []childReport, cpu []time.Duration, err error) {
	for _, c := range r.cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for i, c := range r.cmds {
		var rep childReport
		rest, rerr := io.ReadAll(r.outs[i])
		if rerr == nil {
			rerr = json.Unmarshal(rest, &rep)
		}
		werr := c.Wait()
		if e := errors.Join(rerr, werr); e != nil {
			err = errors.Join(err, fmt.Errorf("replica %d: %w", i, e))
		}
		reports = append(reports, rep)
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = append(cpu, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()))
		}
	}
	r.cmds = nil
	return reports, cpu, err
}

func (r *replicas) kill() {
	for _, c := range r.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	r.cmds = nil
}

// quantiles formats min, p50, p90, p99 and max of ds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	ds = stats.Sorted(ds)
	q := func(p float64) time.Duration { return stats.Percentile(ds, p).Round(time.Millisecond) }
	return fmt.Sprintf("min %s  p50 %s  p90 %s  p99 %s  max %s", q(0), q(0.5), q(0.9), q(0.99), q(1))
}

func (r *result) print() {
	fmt.Printf("\n%d replica(s), %d sessions (written in %s, %d after their deadline), wall %s\n",
		r.replicas, r.n, r.writeTime.Round(time.Millisecond), r.writtenLate, r.wall.Round(time.Second))
	fmt.Printf("  expired %d, duplicate expiries %d\n", len(r.lateness), r.duplicates)
	fmt.Printf("  lateness (expiry written − deadline): %s\n", quantiles(r.lateness))
	var fired, handled []time.Duration
	for _, rep := range r.replicaReport {
		for i := range rep.FiredMicros {
			fired = append(fired, time.Duration(rep.FiredMicros[i])*time.Microsecond)
			handled = append(handled, time.Duration(rep.HandledMicros[i])*time.Microsecond)
		}
	}
	fmt.Printf("    of which NATS firing the request (request − deadline): %s\n", quantiles(fired))
	fmt.Printf("    and the expirer handling it (expiry − request):        %s\n", quantiles(handled))
	var total time.Duration
	for i, c := range r.replicaCPU {
		total += c
		rep := r.replicaReport[i]
		fmt.Printf("  replica %d: expired %d, CPU %s, peak RSS %.1f MiB, peak Go heap %.1f MiB, Go runtime Sys %.1f MiB, %d GCs\n",
			i+1, rep.Expired, c.Round(time.Millisecond), float64(rep.PeakRSSKiB)/1024,
			float64(rep.PeakHeapBytes)/(1<<20), float64(rep.SysBytes)/(1<<20), rep.NumGC)
	}
	fmt.Printf("  expirer CPU total %s = %.0f µs per session\n", total.Round(time.Millisecond),
		float64(total.Microseconds())/float64(r.n))
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
