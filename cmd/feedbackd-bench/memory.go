package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

// settle is how long a server is left alone before its memory is read:
// long enough for the garbage collector's background work after a burst of
// allocations, far shorter than the scavenger's return of memory (see
// burst, which waits for that on purpose).
const settle = 3 * time.Second

// runIdle reads the RSS of a fresh serve that has answered nothing, and of
// the floor.
func (m *measurer) runIdle(ctx context.Context) error {
	fmt.Fprintf(m.out, "\n### idle\n")
	fd, err := m.serve(ctx, false)
	if err != nil {
		return err
	}
	defer fd.stop()
	floor, err := startFloor(ctx)
	if err != nil {
		return err
	}
	defer floor.stop()
	// Idle means started and left alone: sleep is the behaviour measured.
	time.Sleep(2 * settle)
	fr, err1 := fd.rss()
	lr, err2 := floor.rss()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	fa, ff, err1 := procRSSParts(fd.pid())
	la, lf, err2 := procRSSParts(floor.pid())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	fmt.Fprintf(m.out, "idle RSS: feedbackd %.1f MiB (anonymous %.1f, file-backed %.1f), floor %.1f MiB (anonymous %.1f, file-backed %.1f), load %.2f\n",
		mib(fr), mib(fa), mib(ff), mib(lr), mib(la), mib(lf), loadAvg())
	m.row("RSS idle (anonymous + file-backed)", fmt.Sprintf("%.1f MiB (%.1f + %.1f)", mib(fr), mib(fa), mib(ff)),
		fmt.Sprintf("%.1f MiB (%.1f + %.1f)", mib(lr), mib(la), mib(lf)), fmt.Sprintf("%.1f×", float64(fr)/float64(lr)))
	return nil
}

// runWS opens idle WebSockets on a fresh serve, reads what they cost, then
// answers their sessions and measures how long each socket waits for the
// news.
func (m *measurer) runWS(ctx context.Context) error {
	n, nsess := m.o.sockets, m.o.wsSessions
	fmt.Fprintf(m.out, "\n### ws (%d idle sockets on %d sessions, then every session answered)\n", n, nsess)
	fd, err := m.serve(ctx, m.o.profileDir != "")
	if err != nil {
		return err
	}
	defer fd.stop()
	ids, err := createSessions(ctx, fd, nsess, 16, 3600)
	if err != nil {
		return fmt.Errorf("create sessions: %w", err)
	}
	// The sessions are stored before the baseline: what remains is what the
	// connections cost. Sleeps: letting the server settle is the measure.
	time.Sleep(settle)
	before, err := fd.rss()
	if err != nil {
		return err
	}
	goBefore := goMemory(ctx, fd)
	subs := make([]*wsSub, n)
	defer func() {
		for _, s := range subs {
			if s != nil {
				_ = s.conn.Close()
			}
		}
	}()
	start := time.Now()
	var next atomic.Int64
	var dialErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialWS(ctx, fd, ids[i%nsess])
				if err != nil {
					once.Do(func() { dialErr = fmt.Errorf("socket %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				s := &wsSub{conn: c, session: i % nsess, heard: make(chan time.Time, 1)}
				subs[i] = s
				go s.read()
			}
		})
	}
	wg.Wait()
	if dialErr != nil {
		return dialErr
	}
	took := time.Since(start)
	time.Sleep(settle)
	after, err := fd.rss()
	if err != nil {
		return err
	}
	per := float64(after-before) / float64(n) / 1024
	fmt.Fprintf(m.out, "connected %d sockets in %s; RSS %.1f MiB before, %.1f MiB after: %.1f KiB per socket; load %.2f\n",
		n, took.Round(time.Millisecond), mib(before), mib(after), per, loadAvg())
	m.row(fmt.Sprintf("WebSocket: memory per idle connection (%d)", n), fmt.Sprintf("%.1f KiB (%.0f MiB in all)", per, mib(after-before)), "—", "")
	if goAfter := goMemory(ctx, fd); goBefore != nil && goAfter != nil {
		fmt.Fprintf(m.out, "per socket, from the Go runtime: heap in use %.1f KiB, stacks %.1f KiB, %.2f goroutines\n",
			(goAfter["go_memstats_heap_inuse_bytes"]-goBefore["go_memstats_heap_inuse_bytes"])/1024/float64(n),
			(goAfter["go_memstats_stack_inuse_bytes"]-goBefore["go_memstats_stack_inuse_bytes"])/1024/float64(n),
			(goAfter["go_goroutines"]-goBefore["go_goroutines"])/float64(n))
	}
	if m.o.profileDir != "" {
		if err := m.heapProfile(ctx, fd, "ws"); err != nil {
			fmt.Fprintf(m.out, "heap profile: %v\n", err)
		}
	}

	// Answer every session, 16 at a time, and time each socket from the
	// start of its session's submit.
	submitted := make([]time.Time, nsess)
	var mu sync.Mutex
	hc := newHTTPClient(16)
	defer hc.CloseIdleConnections()
	load0 := loadAvg()
	next.Store(0)
	var subErr error
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= nsess || ctx.Err() != nil {
					return
				}
				t := time.Now()
				mu.Lock()
				submitted[i] = t
				mu.Unlock()
				if _, err := doRequest(ctx, hc, fd, submitRequest(ids[i])); err != nil {
					once.Do(func() { subErr = err })
				}
			}
		})
	}
	wg.Wait()
	if subErr != nil {
		return fmt.Errorf("submit: %w", subErr)
	}
	var lat []time.Duration
	missing := 0
	timeout := time.After(2 * time.Minute)
	for _, s := range subs {
		select {
		case at := <-s.heard:
			mu.Lock()
			lat = append(lat, at.Sub(submitted[s.session]))
			mu.Unlock()
		case <-timeout:
			missing++
		}
	}
	slices.Sort(lat)
	fmt.Fprintf(m.out, "push to %d sockets: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms; %d heard nothing; load %.2f→%.2f\n",
		n, ms(stats.Percentile(lat, .5)), ms(stats.Percentile(lat, .9)), ms(stats.Percentile(lat, .99)), ms(stats.Percentile(lat, 1)),
		missing, load0, loadAvg())
	m.row(fmt.Sprintf("WebSocket: submit → push, %d subscribers, p50 / p99", n),
		fmt.Sprintf("%.2f / %.2f ms", ms(stats.Percentile(lat, .5)), ms(stats.Percentile(lat, .99))), "—", fmt.Sprintf("load %.2f→%.2f", load0, loadAvg()))
	if missing > 0 {
		return fmt.Errorf("%d sockets heard nothing within 2 minutes", missing)
	}
	return nil
}

// wsSub is one idle socket and when it heard of its answer.
type wsSub struct {
	conn    *websocket.Conn
	session int
	heard   chan time.Time
}

func (s *wsSub) read() {
	for {
		_, b, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		if bytes.Contains(b, []byte(`"type":"session_status_changed"`)) {
			s.heard <- time.Now()
			return
		}
	}
}

// runBurst answers a burst of sessions, each with a long poll waiting for
// it, on a fresh serve, and reads whether the memory comes back.
func (m *measurer) runBurst(ctx context.Context) error {
	fmt.Fprintf(m.out, "\n### burst (%d sessions created, waited on and answered; RSS %s later)\n", m.o.burst, m.o.burstSettle)
	fd, err := m.serve(ctx, m.o.profileDir != "")
	if err != nil {
		return err
	}
	defer fd.stop()
	time.Sleep(2 * settle) // idle, as in runIdle
	idle, err := fd.rss()
	if err != nil {
		return err
	}
	goIdle := goMemory(ctx, fd)
	const conc = 32
	hc := newHTTPClient(2 * conc)
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	load0 := loadAvg()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(m.o.burst) || ctx.Err() != nil {
					return
				}
				if err := burstOne(ctx, hc, fd, i); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	took := time.Since(start)
	hc.CloseIdleConnections()
	peak, _ := fd.rss()
	// Waiting is the measure: does the memory come back by itself?
	select {
	case <-time.After(m.o.burstSettle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := fd.rss()
	if err != nil {
		return err
	}
	fmt.Fprintf(m.out, "burst of %d in %s: RSS idle %.1f MiB, right after %.1f MiB, %s later %.1f MiB (%+.1f MiB over idle); load %.2f→%.2f\n",
		m.o.burst, took.Round(time.Millisecond), mib(idle), mib(peak), m.o.burstSettle, mib(after), mib(after)-mib(idle), load0, loadAvg())
	if anon, file, err := procRSSParts(fd.pid()); err == nil {
		fmt.Fprintf(m.out, "%s later: anonymous %.1f MiB, file-backed %.1f MiB\n", m.o.burstSettle, mib(anon), mib(file))
	}
	// What holds the memory: the live heap, what the heap keeps free
	// without having returned it to the system, stacks, and the rest of the
	// runtime's (NATS's buffers are in the heap).
	if goAfter := goMemory(ctx, fd); goIdle != nil && goAfter != nil {
		for _, g := range []struct{ name, metric string }{
			{"heap in use", "go_memstats_heap_inuse_bytes"},
			{"heap free, not returned", "heap_retained"},
			{"stacks", "go_memstats_stack_inuse_bytes"},
			{"runtime total (sys - released)", "sys_retained"},
		} {
			fmt.Fprintf(m.out, "  Go %-31s idle %6.1f MiB, %s after the burst %6.1f MiB\n", g.name+":", goIdle[g.metric]/(1<<20), m.o.burstSettle, goAfter[g.metric]/(1<<20))
		}
		fmt.Fprintf(m.out, "  goroutines: idle %.0f, after %.0f\n", goIdle["go_goroutines"], goAfter["go_goroutines"])
	}
	if m.o.profileDir != "" {
		if err := m.heapProfile(ctx, fd, "burst"); err != nil {
			fmt.Fprintf(m.out, "heap profile: %v\n", err)
		}
	}
	m.row(fmt.Sprintf("RSS idle / after %d sessions answered (+%s)", m.o.burst, m.o.burstSettle),
		fmt.Sprintf("%.1f / %.1f MiB (peak %.1f)", mib(idle), mib(after), mib(peak)), "—", fmt.Sprintf("%+.1f MiB over idle", mib(after)-mib(idle)))
	return nil
}

// burstOne creates a session, starts a long poll on it, answers it, and
// waits for the long poll to return.
func burstOne(ctx context.Context, hc *http.Client, fd *child, i int64) error {
	id, err := createOne(ctx, hc, fd, i, 0)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		_, err := doRequest(ctx, hc, fd, request{method: "GET", path: "/api/feedback/" + id + "/result?wait=30", auth: true, want: http.StatusOK})
		done <- err
	}()
	if _, err := doRequest(ctx, hc, fd, submitRequest(id)); err != nil {
		<-done
		return err
	}
	return <-done
}

// runCold starts serve on a fresh data directory again and again and times
// each start to the first 200 of /health.
func (m *measurer) runCold(ctx context.Context) error {
	fmt.Fprintf(m.out, "\n### cold start (%d starts, each on a fresh data directory)\n", m.o.coldStarts)
	var health, api []float64
	load0 := loadAvg()
	for range m.o.coldStarts {
		fd, err := m.serve(ctx, false)
		if err != nil {
			return err
		}
		health = append(health, ms(fd.ready.Sub(fd.started)))
		api = append(api, ms(fd.serving.Sub(fd.started)))
		fd.stop()
	}
	load1 := loadAvg()
	fmt.Fprintf(m.out, "start → first /health 200: median %.0f ms (%v); → first API 200: median %.0f ms (%v); load %.2f→%.2f\n",
		median(health), roundAll(health), median(api), roundAll(api), load0, load1)
	m.row(fmt.Sprintf("cold start to first /health 200 / first API 200 (median of %d)", m.o.coldStarts),
		fmt.Sprintf("%.0f / %.0f ms", median(health), median(api)), "—", fmt.Sprintf("load %.2f→%.2f", load0, load1))
	return nil
}

func roundAll(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + .5)
	}
	return out
}

// goMemory reads the Go runtime's memory gauges from the server's /metrics
// on METRICS_ADDR (set when profiling); nil when there is none.
func goMemory(ctx context.Context, fd *child) map[string]float64 {
	if fd.opsURL == "" {
		return nil
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", fd.opsURL+"/metrics", nil)
	res, err := healthClient.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines",
			"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_sys_bytes":
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				out[name] = v
			}
		}
	}
	if len(out) != 6 {
		return nil
	}
	out["heap_retained"] = out["go_memstats_heap_idle_bytes"] - out["go_memstats_heap_released_bytes"]
	out["sys_retained"] = out["go_memstats_sys_bytes"] - out["go_memstats_heap_released_bytes"]
	return out
}
