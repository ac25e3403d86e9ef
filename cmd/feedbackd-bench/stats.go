package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

// recorder keeps every latency of every operation, and errors by kind.
// Runs are bounded in count, so keeping all samples is affordable and
// percentiles are exact.
type recorder struct {
	mu    sync.Mutex
	ops   map[string]*opStats
	order []string
}

type opStats struct {
	lat    []time.Duration
	errs   map[string]int
	failed int
}

// maxErrorKinds keeps a run that fails in many different ways readable.
const maxErrorKinds = 20

func newRecorder() *recorder { return &recorder{ops: make(map[string]*opStats)} }

func (r *recorder) op(name string) *opStats {
	s := r.ops[name]
	if s == nil {
		s = &opStats{errs: make(map[string]int)}
		r.ops[name] = s
		r.order = append(r.order, name)
	}
	return s
}

// ok records one successful operation and how long it took.
func (r *recorder) ok(name string, d time.Duration) {
	r.mu.Lock()
	s := r.op(name)
	s.lat = append(s.lat, d)
	r.mu.Unlock()
}

// fail records one failed operation.
func (r *recorder) fail(name string, err error) {
	kind := errorKind(err)
	r.mu.Lock()
	s := r.op(name)
	s.failed++
	if _, seen := s.errs[kind]; !seen && len(s.errs) >= maxErrorKinds {
		kind = "other"
	}
	s.errs[kind]++
	r.mu.Unlock()
}

// time runs f as operation name and records its outcome.
func (r *recorder) time(name string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		r.fail(name, err)
		return fmt.Errorf("%s: %w", name, err)
	}
	r.ok(name, time.Since(start))
	return nil
}

// statusError is an unexpected HTTP status.
type statusError struct {
	status int
	code   string // the envelope's error code, when there is one
}

func (e *statusError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("HTTP %d %s", e.status, e.code)
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

// errorKind groups errors so that a report lists a few kinds, not every
// message. Messages are scrubbed of credentials by the client before they
// get here.
func errorKind(err error) string {
	var se *statusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg)-i > 8 {
		msg = msg[i+2:] // the innermost cause
	}
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

// round keeps three significant figures, which is all a latency on a
// shared machine is worth.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func (res *result) print(w io.Writer, o options) {
	secs := res.elapsed.Seconds()
	fmt.Fprintf(w, "\nelapsed %s: %d iterations succeeded (%.1f/s), %d failed",
		round(res.elapsed), res.iterations.Load(), float64(res.iterations.Load())/secs, res.failed.Load())
	if o.Rate > 0 {
		fmt.Fprintf(w, ", %d missed (no worker free: raise --concurrency or lower --rate)", res.missed.Load())
	}
	if n := res.setupErrs.Load(); n > 0 {
		fmt.Fprintf(w, ", %d workers failed to start", n)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)

	res.rec.mu.Lock()
	defer res.rec.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tok\terrors\tper s\tp50\tp90\tp99\tmax\t")
	names := slices.Clone(res.rec.order)
	// Iteration last: it sums the others.
	sort.SliceStable(names, func(i, j int) bool { return names[j] == "iteration" && names[i] != "iteration" })
	for _, name := range names {
		s := res.rec.ops[name]
		slices.Sort(s.lat)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", name, len(s.lat), s.failed, float64(len(s.lat))/secs,
			round(stats.Percentile(s.lat, .50)), round(stats.Percentile(s.lat, .90)), round(stats.Percentile(s.lat, .99)), round(stats.Percentile(s.lat, 1)))
	}
	tw.Flush()

	var lines []string
	for _, name := range names {
		s := res.rec.ops[name]
		for kind, n := range s.errs {
			lines = append(lines, fmt.Sprintf("  %s: %s ×%d", name, kind, n))
		}
	}
	if len(lines) > 0 {
		sort.Strings(lines)
		fmt.Fprintln(w, "\nerrors:")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
	if o.Rate > 0 {
		fmt.Fprintln(w, "\nopen loop: iteration latency counts from the scheduled start, queueing included.")
	}
}
