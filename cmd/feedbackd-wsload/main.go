// Command feedbackd-wsload measures the notifier under load: it opens N
// WebSocket subscribers against a running feedbackd (one session each, or
// many on few sessions), answers the sessions through the REST API, and
// prints how long each subscriber waited for the news (p50/p99/max) and how
// much memory the server spent per connection.
//
//	go run ./cmd/feedbackd-wsload -url http://127.0.0.1:8787 -key "$(cat data/api-key)" -n 1000 -pid <server pid>
//
// See docs/notifier.md for the figures and the exact runs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

type options struct {
	base        string
	ws          string
	key         string
	n           int
	sessions    int
	pid         int
	dialWorkers int
	workers     int
	settle      time.Duration
	timeout     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.base, "url", "http://127.0.0.1:8787", "base URL of the server (REST API and /ws)")
	flag.StringVar(&o.ws, "ws", "", "base URL of the notifier when it runs apart from the REST API (default: -url)")
	flag.StringVar(&o.key, "key", os.Getenv("FEEDBACKD_API_KEY"), "API key (default $FEEDBACKD_API_KEY)")
	flag.IntVar(&o.n, "n", 1000, "number of WebSocket subscribers")
	flag.IntVar(&o.sessions, "sessions", 0, "number of sessions the subscribers spread over (default: one per subscriber)")
	flag.IntVar(&o.pid, "pid", 0, "server process id, to read its memory from /proc (default: process_resident_memory_bytes from /metrics)")
	flag.IntVar(&o.dialWorkers, "dial-workers", 64, "concurrent WebSocket handshakes")
	flag.IntVar(&o.workers, "workers", 16, "concurrent REST requests")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "pause before reading the server's memory")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for every subscriber to hear of its answer")
	flag.Parse()
	if o.sessions <= 0 || o.sessions > o.n {
		o.sessions = o.n
	}
	if o.key == "" {
		fmt.Fprintln(os.Stderr, "feedbackd-wsload: give -key or FEEDBACKD_API_KEY")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "feedbackd-wsload:", err)
		os.Exit(1)
	}
}

// subscriber is one WebSocket connection and when it heard of its answer.
type subscriber struct {
	conn    *websocket.Conn
	session int
	heard   atomic.Int64 // unix nanos of session_status_changed; 0 until then
	done    chan struct{}
}

func run(o options) error {
	o.base = strings.TrimRight(o.base, "/")
	if o.ws == "" {
		o.ws = o.base
	}
	o.ws = strings.TrimRight(o.ws, "/")
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.workers}}
	mem := memReader(o, httpc)

	fmt.Printf("feedbackd-wsload: %d subscribers on %d sessions against %s (%d CPUs here)\n", o.n, o.sessions, o.ws, runtime.NumCPU())

	ids := make([]string, o.sessions)
	start := time.Now()
	err := parallel(o.workers, o.sessions, func(i int) error {
		id, err := createSession(httpc, o, i)
		ids[i] = id
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("created %d sessions in %s\n", o.sessions, time.Since(start).Round(time.Millisecond))

	// The sessions are stored before the baseline: what remains is what
	// the connections cost.
	time.Sleep(o.settle)
	before, memErr := mem()
	subs := make([]*subscriber, o.n)
	defer closeAll(subs)
	start = time.Now()
	err = parallel(o.dialWorkers, o.n, func(i int) error {
		s, err := subscribe(o, ids[i%o.sessions])
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		s.session = i % o.sessions
		subs[i] = s
		return nil
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("connected %d subscribers in %s (%.0f/s)\n", o.n, took.Round(time.Millisecond), float64(o.n)/took.Seconds())

	time.Sleep(o.settle)
	after, err := mem()
	switch {
	case memErr != nil || err != nil:
		fmt.Printf("server memory: unknown (%v)\n", errors.Join(memErr, err))
	default:
		fmt.Printf("server RSS: %.1f MiB before, %.1f MiB with %d connections: %.1f KiB per connection\n",
			float64(before)/(1<<20), float64(after)/(1<<20), o.n, float64(after-before)/1024/float64(o.n))
	}

	submitted := make([]atomic.Int64, o.sessions)
	start = time.Now()
	err = parallel(o.workers, o.sessions, func(i int) error {
		submitted[i].Store(time.Now().UnixNano())
		return submitSession(httpc, o, ids[i])
	})
	if err != nil {
		return err
	}
	fmt.Printf("submitted %d answers in %s\n", o.sessions, time.Since(start).Round(time.Millisecond))

	deadline := time.Now().Add(o.timeout)
	for _, s := range subs {
		select {
		case <-s.done:
		case <-time.After(time.Until(deadline)):
		}
	}
	var lat []time.Duration
	missing := 0
	for _, s := range subs {
		h := s.heard.Load()
		if h == 0 {
			missing++
			continue
		}
		lat = append(lat, time.Duration(h-submitted[s.session].Load()))
	}
	if len(lat) == 0 {
		return fmt.Errorf("no subscriber heard of its answer within %s", o.timeout)
	}
	slices.Sort(lat)
	fmt.Printf("delivery latency (submit sent → session_status_changed received), %d subscribers: p50 %s  p99 %s  max %s\n",
		len(lat), stats.Percentile(lat, .50).Round(time.Microsecond), stats.Percentile(lat, .99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	if missing > 0 {
		return fmt.Errorf("%d subscribers heard nothing within %s", missing, o.timeout)
	}
	return nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, f func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func createSession(c *http.Client, o options, i int) (string, error) {
	body := fmt.Sprintf(`{"message":"load test question %d","predefinedOptions":["yes","no"],"timeout":3600}`, i)
	var data struct {
		SessionID string `json:"sessionId"`
	}
	if err := call(c, o, "/api/feedback/create", body, &data); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return data.SessionID, nil
}

func submitSession(c *http.Client, o options, id string) error {
	if err := call(c, o, "/api/feedback/"+id+"/submit", `{"selectedOptions":["yes"],"freeText":"load test answer"}`, nil); err != nil {
		return fmt.Errorf("submit %s: %w", id, err)
	}
	return nil
}

// call POSTs body and decodes the data of the API envelope into out.
func call(c *http.Client, o options, path, body string, out any) error {
	req, err := http.NewRequest(http.MethodPost, o.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", o.key)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return json.Unmarshal(env.Data, out)
}

var dialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}

// subscribe opens /ws/{id}, waits for connection_established, and starts a
// reader that notes when the status change arrives.
func subscribe(o options, id string) (*subscriber, error) {
	u := "ws" + strings.TrimPrefix(o.ws, "http") + "/ws/" + id + "?clientType=app&apiKey=" + url.QueryEscape(o.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	var m struct {
		Type string `json:"type"`
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := conn.ReadJSON(&m); err != nil || m.Type != "connection_established" {
		conn.Close()
		return nil, fmt.Errorf("first message %q: %v", m.Type, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	s := &subscriber{conn: conn, done: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *subscriber) read() {
	heard := false
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			if !heard {
				close(s.done)
			}
			return
		}
		if !heard && bytes.Contains(data, []byte(`"session_status_changed"`)) {
			s.heard.Store(time.Now().UnixNano())
			heard = true
			close(s.done)
		}
	}
}

func closeAll(subs []*subscriber) {
	for _, s := range subs {
		if s != nil {
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = s.conn.Close()
		}
	}
}

// memReader returns how the server's resident memory is read: from
// /proc/<pid>/status when -pid is given, else from /metrics.
func memReader(o options, c *http.Client) func() (uint64, error) {
	if o.pid > 0 {
		return func() (uint64, error) { return procRSS(o.pid) }
	}
	return func() (uint64, error) { return metricsRSS(c, o.base) }
}

func procRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func metricsRSS(c *http.Client, base string) (uint64, error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: HTTP %d (pass -pid instead)", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return 0, fmt.Errorf("parse process_resident_memory_bytes: %w", err)
			}
			return uint64(v), nil
		}
	}
	return 0, errors.New("/metrics has no process_resident_memory_bytes (pass -pid instead)")
}
