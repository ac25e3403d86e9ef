// Package dispatchtest holds local fakes of the services the dispatcher
// delivers to — a Standard Webhooks receiver, a Slack incoming webhook and
// an ntfy server — for tests of any package. Each listens on 127.0.0.1,
// checks a request as the real service (or a careful receiver) would,
// answers as it would, records what it accepted, and can be told to fail.
// Each is stopped when its test ends.
package dispatchtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// WebhookDelivery is one request a WebhookReceiver got.
type WebhookDelivery struct {
	// ID, Timestamp and Signature are the Standard Webhooks headers.
	ID        string
	Timestamp string
	Signature string
	Body      []byte
	// Type is the payload's "type".
	Type string
	// VerifyErr is what the Standard Webhooks library said of the
	// signature; nil means valid.
	VerifyErr error
	// Status is what the receiver answered.
	Status int
	// At is when the request arrived.
	At time.Time
}

// Payload decodes the body.
func (d WebhookDelivery) Payload() (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(d.Body, &m)
	return m, err
}

// WebhookReceiver is a webhook endpoint that verifies every request with the
// Standard Webhooks library (github.com/standard-webhooks/standard-webhooks,
// libraries/go) and answers 401 to a bad signature, as a careful receiver
// does.
type WebhookReceiver struct {
	// URL is where it listens.
	URL string

	wh *standardwebhooks.Webhook
	mu sync.Mutex
	// respond chooses the status of the n-th request (from 1); it may
	// block, to hold a request open.
	respond    func(n int, d WebhookDelivery) (int, http.Header)
	deliveries []WebhookDelivery
}

// NewWebhookReceiver starts a receiver for secret ("whsec_…"); it answers
// 204 until told otherwise.
func NewWebhookReceiver(tb testing.TB, secret string) *WebhookReceiver {
	tb.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		tb.Fatalf("webhook secret: %v", err)
	}
	r := &WebhookReceiver{wh: wh}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks/feedbackd"
	return r
}

// Respond sets how the receiver answers; fn gets the request's number
// (from 1, counting every request) and may block to hold it open.
func (r *WebhookReceiver) Respond(fn func(n int, d WebhookDelivery) (status int, header http.Header)) {
	r.mu.Lock()
	r.respond = fn
	r.mu.Unlock()
}

// FailFirst makes the first n requests answer status, the rest 204.
func (r *WebhookReceiver) FailFirst(n, status int) {
	r.Respond(func(i int, _ WebhookDelivery) (int, http.Header) {
		if i <= n {
			return status, nil
		}
		return http.StatusNoContent, nil
	})
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	d := WebhookDelivery{
		ID:        req.Header.Get("webhook-id"),
		Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"),
		Body:      body,
		At:        time.Now(),
		VerifyErr: r.wh.Verify(body, req.Header),
	}
	if p, err := d.Payload(); err == nil {
		d.Type, _ = p["type"].(string)
	}
	r.mu.Lock()
	n := len(r.deliveries) + 1
	respond := r.respond
	r.deliveries = append(r.deliveries, d)
	r.mu.Unlock()

	status, header := http.StatusNoContent, http.Header(nil)
	switch {
	case d.VerifyErr != nil:
		status = http.StatusUnauthorized
	case req.Header.Get("Content-Type") != "application/json":
		status = http.StatusUnsupportedMediaType
	case respond != nil:
		status, header = respond(n, d)
	}
	r.mu.Lock()
	r.deliveries[n-1].Status = status
	r.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
}

// Deliveries returns every request so far, in arrival order.
func (r *WebhookReceiver) Deliveries() []WebhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookDelivery(nil), r.deliveries...)
}

// Accepted returns the requests that were answered 2xx, in arrival order.
func (r *WebhookReceiver) Accepted() []WebhookDelivery {
	var out []WebhookDelivery
	for _, d := range r.Deliveries() {
		if d.Status >= 200 && d.Status < 300 {
			out = append(out, d)
		}
	}
	return out
}

// RetryAfter is a header that asks for a retry after d.
func RetryAfter(d time.Duration) http.Header {
	return http.Header{"Retry-After": {strconv.Itoa(int(d.Seconds()))}}
}
