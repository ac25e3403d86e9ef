package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// request is one HTTP request of a load.
type request struct {
	method string
	path   string
	body   []byte
	auth   bool // send the API key
	want   int  // expected status; the floor answers 200 or 201
}

// load is a closed loop of single requests against one server: conc
// workers, each sending its next request when the last one is answered,
// until dur has passed or count requests were sent.
type load struct {
	conc  int
	dur   time.Duration // 0: until count
	count int64         // 0: until dur
	next  func(i int64) request
}

// loadResult is what one load measured, the server's CPU and memory
// included.
type loadResult struct {
	ok, failed int64
	firstErr   error
	lat        []time.Duration // sorted
	elapsed    time.Duration
	serverCPU  time.Duration
	rss        uint64 // after the load
	loadBefore float64
	loadAfter  float64
}

// perSecond is the throughput.
func (r loadResult) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// cpuPerRequest is the server's CPU time per answered request.
func (r loadResult) cpuPerRequest() time.Duration {
	if r.ok == 0 {
		return 0
	}
	return r.serverCPU / time.Duration(r.ok)
}

// newHTTPClient keeps enough idle connections for conc workers: every
// request after the first of a worker reuses its connection, as a
// keep-alive load tool does.
func newHTTPClient(conc int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conc * 2,
			MaxIdleConnsPerHost: conc * 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// run sends the load to srv and reads srv's CPU time before and after.
func (l load) run(ctx context.Context, srv *child) (loadResult, error) {
	hc := newHTTPClient(l.conc)
	defer hc.CloseIdleConnections()
	// One request per worker first, outside the figures: connections are
	// open before the clock starts.
	var warm sync.WaitGroup
	for range l.conc {
		warm.Go(func() { _, _ = doRequest(ctx, hc, srv, request{method: "GET", path: "/health", want: 200}) })
	}
	warm.Wait()

	var res loadResult
	var sent atomic.Int64
	lats := make([][]time.Duration, l.conc)
	var failed atomic.Int64
	var errOnce sync.Once
	res.loadBefore = loadAvg()
	cpu0, err := srv.cpu()
	if err != nil {
		return res, err
	}
	start := time.Now()
	stopAt := start.Add(l.dur)
	var wg sync.WaitGroup
	for w := range l.conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := sent.Add(1) - 1
				if l.count > 0 && i >= l.count || l.dur > 0 && time.Now().After(stopAt) {
					return
				}
				t0 := time.Now()
				_, err := doRequest(ctx, hc, srv, l.next(i))
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { res.firstErr = err })
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	cpu1, err := srv.cpu()
	if err != nil {
		return res, err
	}
	res.serverCPU = cpu1 - cpu0
	res.loadAfter = loadAvg()
	res.rss, _ = srv.rss()
	for _, l := range lats {
		res.lat = append(res.lat, l...)
	}
	slices.Sort(res.lat)
	res.ok = int64(len(res.lat))
	res.failed = failed.Load()
	return res, ctx.Err()
}

// apiEnvelope is the response shape of the REST API.
type apiEnvelope struct {
	Data json.RawMessage `json:"data"`
}

// doRequest sends one request to srv and returns the body. Against the
// floor any 2xx is right; against feedbackd, the status asked for.
func doRequest(ctx context.Context, hc *http.Client, srv *child, r request) ([]byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, srv.url+r.path, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth && srv.key != "" {
		req.Header.Set("X-API-Key", srv.key)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ok := res.StatusCode == r.want
	if srv.key == "" { // the floor
		ok = res.StatusCode/100 == 2
	}
	if !ok {
		return b, fmt.Errorf("%s %s: HTTP %d: %.120s", r.method, r.path, res.StatusCode, b)
	}
	return b, nil
}

// createBody is the question every create of the tool asks.
func createBody(i int64, timeout int) []byte {
	if timeout > 0 {
		return fmt.Appendf(nil, `{"message":"feedbackd-bench question %d: ship it?","predefinedOptions":["yes","no"],"timeout":%d}`, i, timeout)
	}
	return fmt.Appendf(nil, `{"message":"feedbackd-bench question %d: ship it?","predefinedOptions":["yes","no"]}`, i)
}

// submitBody is the answer every submit of the tool gives.
var submitBody = []byte(`{"selectedOptions":["yes"],"freeText":"answered by feedbackd-bench"}`)

func createRequest(i int64) request {
	return request{method: "POST", path: "/api/feedback/create", body: createBody(i, 0), auth: true, want: http.StatusCreated}
}

// createSessions creates n pending sessions on srv (timeout in seconds, 0
// for the default) with conc workers and returns their ids.
func createSessions(ctx context.Context, srv *child, n, conc, timeout int) ([]string, error) {
	hc := newHTTPClient(conc)
	defer hc.CloseIdleConnections()
	ids := make([]string, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				id, err := createOne(ctx, hc, srv, i, timeout)
				if err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return ids, firstErr
}

func createOne(ctx context.Context, hc *http.Client, srv *child, i int64, timeout int) (string, error) {
	b, err := doRequest(ctx, hc, srv, request{method: "POST", path: "/api/feedback/create", body: createBody(i, timeout), auth: true, want: http.StatusCreated})
	if err != nil {
		return "", err
	}
	var env apiEnvelope
	var d struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return "", fmt.Errorf("decode create response: %w", err)
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.SessionID == "" {
		return "", fmt.Errorf("create response without a sessionId: %.120s", b)
	}
	return d.SessionID, nil
}

func submitRequest(id string) request {
	return request{method: "POST", path: "/api/feedback/" + id + "/submit", body: submitBody, want: http.StatusOK}
}
