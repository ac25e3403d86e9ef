package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

// benchClient keeps enough connections for a parallel run.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

func benchDo(b *testing.B, method, url, key string, body []byte) []byte {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		b.Fatalf("%s %s: %d %s", method, url, res.StatusCode, out)
	}
	return out
}

func benchCreate(b *testing.B, e *restEdge) string {
	out := benchDo(b, "POST", e.URL+"/api/feedback/create", keyA, []byte(`{"message":"Ship it?","predefinedOptions":["yes","no"]}`))
	var r struct{ Data struct{ SessionID string } }
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	return r.Data.SessionID
}

// latencies records per-request durations across goroutines and reports
// p50/p99 next to ns/op.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	sorted := stats.Sorted(l.d)
	b.ReportMetric(float64(stats.Percentile(sorted, .50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(stats.Percentile(sorted, .99).Microseconds()), "p99-µs")
}

// BenchmarkREST measures create, submit and status through the whole stack:
// HTTP client, fiber, auth, the service and the embedded JetStream KV
// (file storage). The parallel variants give the latency percentiles.
func BenchmarkREST(b *testing.B) {
	e, _ := newREST(b)
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchCreate(b, e)
		}
	})
	b.Run("submit", func(b *testing.B) {
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = benchCreate(b, e)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			benchDo(b, "POST", e.URL+"/api/feedback/"+ids[i]+"/submit", keyA, []byte(`{"selectedOptions":["yes"],"freeText":"fine"}`))
		}
	})
	id := benchCreate(b, e)
	b.Run("status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchDo(b, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, nil)
		}
	})
	b.Run("create-parallel", func(b *testing.B) {
		var l latencies
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s := time.Now()
				benchCreate(b, e)
				l.add(time.Since(s))
			}
		})
		l.report(b)
	})
	b.Run("status-parallel", func(b *testing.B) {
		var l latencies
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s := time.Now()
				benchDo(b, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, nil)
				l.add(time.Since(s))
			}
		})
		l.report(b)
	})
}
