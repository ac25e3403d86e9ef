package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookLog is the operator-wide webhook (NOTIFY_WEBHOOK_URL) the dispatchers
// deliver to. It verifies every request with the Standard Webhooks library,
// answers as a careful receiver would (401 to a bad signature, 204 to a good
// one), and remembers what arrived by webhook-id and by session, so the
// report can tell a lost event from a redelivered one (docs/dispatcher.md:
// at-least-once, the same webhook-id on every attempt).
type hookLog struct {
	wh *standardwebhooks.Webhook
	// refuseEvery makes the receiver answer 503 to the first attempt of one
	// event in refuseEvery (chosen by its webhook-id), so the retry path
	// runs under the kills too; 0 refuses nothing.
	refuseEvery uint32
	// delay holds each accepted request open for a random time up to it
	// before answering, as a receiver doing real work does, so a killed
	// dispatcher is likely to die with deliveries in flight: the receiver
	// has them, the dispatcher never heard so, and they come again.
	delay time.Duration
	srv   *http.Server
	done  chan struct{}

	mu        sync.Mutex
	badSig    []string // why each rejected request failed verification
	malformed []string
	refused   map[string]bool       // webhook-ids answered 503 on purpose
	byID      map[string]*hookEvent // accepted events
	bySession map[string]map[string][]string
	conflicts []string // one webhook-id used for two events
}

// lateAfter is when an event's first arrival counts as late in the report:
// a delivery that arrives later went through a retry or was taken over from
// a dispatcher that died.
const lateAfter = 5 * time.Second

// hookEvent is one event (a session and a type) as the receiver accepted it.
type hookEvent struct {
	session, typ string
	happened     time.Time // the payload's timestamp: when the event happened
	first        time.Time // when it was first accepted
	accepted     int       // 2 or more: delivered again under the same id
}

// startHookLog listens on addr (a loopback address: the dispatchers are told
// of it through NOTIFY_WEBHOOK_URL) for deliveries signed with secret.
func startHookLog(addr, secret string, refuseEvery int, delay time.Duration, log *slog.Logger) (*hookLog, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil || secret == "" {
		return nil, fmt.Errorf("webhook secret (NOTIFY_WEBHOOK_SECRET, whsec_…): %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for webhooks: %w", err)
	}
	h := &hookLog{
		wh: wh, refuseEvery: uint32(max(refuseEvery, 0)), delay: delay, done: make(chan struct{}),
		refused: map[string]bool{}, byID: map[string]*hookEvent{}, bySession: map[string]map[string][]string{},
	}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("webhook receiver stopped", "err", err)
		}
	}()
	return h, nil
}

func (h *hookLog) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
	<-h.done
}

func (h *hookLog) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if err := h.wh.Verify(body, r.Header); err != nil {
		h.mu.Lock()
		h.badSig = append(h.badSig, fmt.Sprintf("%s: %v", id, err))
		h.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			SessionID string `json:"sessionId"`
		} `json:"data"`
	}
	happened, terr := time.Time{}, json.Unmarshal(body, &p)
	if terr == nil {
		happened, terr = time.Parse(time.RFC3339Nano, p.Timestamp)
	}
	if terr != nil || p.Type == "" || p.Data.SessionID == "" {
		h.mu.Lock()
		h.malformed = append(h.malformed, fmt.Sprintf("%s: type %q session %q timestamp %q (%v)", id, p.Type, p.Data.SessionID, p.Timestamp, terr))
		h.mu.Unlock()
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	if !h.record(id, p.Type, p.Data.SessionID, happened, w) {
		return
	}
	if h.delay > 0 {
		// The sleep is the behaviour under test: a receiver slow to answer.
		select {
		case <-r.Context().Done():
		case <-time.After(rand.N(h.delay)):
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// record notes an accepted request before it is answered, as a receiver
// that acts on an event and then answers does; false when it refused the
// request on purpose (and answered it).
func (h *hookLog) record(id, typ, session string, happened time.Time, w http.ResponseWriter) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuseEvery > 0 && !h.refused[id] && h.byID[id] == nil && hash(id)%h.refuseEvery == 0 {
		h.refused[id] = true
		w.Header().Set("Retry-After", "1")
		http.Error(w, "refused on purpose, try again", http.StatusServiceUnavailable)
		return false
	}
	e := h.byID[id]
	if e == nil {
		e = &hookEvent{session: session, typ: typ, happened: happened, first: now}
		h.byID[id] = e
		if h.bySession[session] == nil {
			h.bySession[session] = map[string][]string{}
		}
		h.bySession[session][typ] = append(h.bySession[session][typ], id)
	} else if e.session != session || e.typ != typ {
		h.conflicts = append(h.conflicts, fmt.Sprintf("webhook-id %s carried %s of %s, then %s of %s", id, e.typ, e.session, typ, session))
	}
	e.accepted++
	return true
}

func hash(s string) uint32 {
	f := fnv.New32a()
	_, _ = f.Write([]byte(s))
	return f.Sum32()
}

// expected lists the events the webhook must get for a session whose final
// status is final: its question and, once it ended, the end.
func expected(final string) []string {
	if final == "" || final == "pending" {
		return []string{"session.created"}
	}
	return []string{"session.created", "session." + final}
}

// missing counts the events of finals (session → final status, "" when not
// known) that have not arrived yet.
func (h *hookLog) missing(finals map[string]string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id, final := range finals {
		for _, typ := range expected(final) {
			if len(h.bySession[id][typ]) == 0 {
				n++
			}
		}
	}
	return n
}

// hookStats is what the report says of the webhook.
type hookStats struct {
	events, sessions, duplicates, refused, unknown int
	byType                                         map[string]int
	latencies                                      []time.Duration // event → first accepted arrival
	lateByType                                     map[string]int  // events later than lateAfter
	lateAfterWait                                  int             // events still missing when the straggler wait began
	waited                                         time.Duration
}

// verifyHooks checks the webhook's invariants for the sessions the load
// created and the server acknowledged (finals: session → final status from
// the API, "" if unreadable).
func (r *report) verifyHooks(h *hookLog, finals map[string]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := &r.hooks
	st.byType, st.lateByType = map[string]int{}, map[string]int{}
	st.refused = len(h.refused)
	for _, e := range h.byID {
		st.events++
		st.byType[e.typ]++
		st.duplicates += e.accepted - 1
		st.latencies = append(st.latencies, e.first.Sub(e.happened))
		if e.first.Sub(e.happened) > lateAfter {
			st.lateByType[e.typ]++
		}
		if _, ok := finals[e.session]; !ok {
			st.unknown++
		}
	}
	slices.Sort(st.latencies)
	st.sessions = len(h.bySession)
	for _, b := range h.badSig {
		r.problem(invHookSigned, "bad signature: %s", b)
	}
	for _, m := range h.malformed {
		r.problem(invHookSigned, "malformed delivery: %s", m)
	}
	for _, c := range h.conflicts {
		r.problem(invHookID, "%s", c)
	}
	ids := make([]string, 0, len(finals))
	for id := range finals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		final := finals[id]
		got := h.bySession[id]
		for _, typ := range expected(final) {
			if len(got[typ]) == 0 {
				inv := invHookCreated
				if typ != "session.created" {
					inv = invHookFinal
				}
				r.problem(inv, "%s: %s never reached the webhook (final status %q)", id, typ, final)
			}
		}
		for typ, wids := range got {
			if len(wids) > 1 {
				r.problem(invHookID, "%s: %s arrived under %d webhook-ids: %v", id, typ, len(wids), wids)
			}
			if final != "" && typ != "session.created" && typ != "session."+final {
				r.problem(invHookFinal, "%s: got %s, but the session is %s", id, typ, final)
			}
		}
	}
}
