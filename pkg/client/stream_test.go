package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

// collector runs a stream in the background and keeps what it yields.
type collector struct {
	mu     sync.Mutex
	events []client.Event
	err    error
	done   chan struct{}
}

func collect(seq func(func(client.Event, error) bool)) *collector {
	col := &collector{done: make(chan struct{})}
	go func() {
		defer close(col.done)
		for ev, err := range seq {
			col.mu.Lock()
			if err != nil {
				col.err = err
			} else {
				col.events = append(col.events, ev)
			}
			col.mu.Unlock()
		}
	}()
	return col
}

// summary is the events as "type/status" (and the session, when asked).
func (col *collector) summary(withID bool) []string {
	col.mu.Lock()
	defer col.mu.Unlock()
	var out []string
	for _, ev := range col.events {
		s := string(ev.Type) + "/" + string(ev.Status)
		if withID && ev.SessionID != "" {
			s += "/" + ev.SessionID[:8]
		}
		out = append(out, s)
	}
	return out
}

func (col *collector) has(pred func(client.Event) bool) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return slices.ContainsFunc(col.events, pred)
}

func (col *collector) wait(t *testing.T) {
	t.Helper()
	select {
	case <-col.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the stream did not end; it yielded %v", col.summary(true))
	}
}

func connected(ev client.Event) bool { return ev.Type == client.EventConnected }

func TestSubscribeYieldsTheTransitionAndEnds(t *testing.T) {
	t.Parallel()
	m := serve(t)
	c := clientOf(t, m)
	ctx := ctxFor(t, 60*time.Second)

	answered := mustCreate(t, c, client.Question{Message: "Yes or no?", Options: []string{"Yes", "No"}}).SessionID
	col := collect(c.Subscribe(ctx, answered))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))
	if _, err := c.Submit(ctx, answered, client.Answer{SelectedOptions: []string{"No"}, FreeText: "not today"}); err != nil {
		t.Fatal(err)
	}
	col.wait(t)
	want := []string{"connection_established/pending", "session_status_changed/completed", "feedback_submitted/completed"}
	if got := col.summary(false); !slices.Equal(got, want) || col.err != nil {
		t.Fatalf("yielded %v (err %v), want %v", got, col.err, want)
	}
	last := col.events[2]
	if last.Preview != "No\n\nnot today" || last.SessionID != answered || last.Revision == 0 || last.At.IsZero() || len(last.Raw) == 0 {
		t.Fatalf("feedback_submitted %+v", last)
	}

	// A session that ended before Subscribe still yields its end.
	for _, tc := range []struct {
		end  func(id string) error
		want []string
	}{
		{func(id string) error { return c.Cancel(ctx, id) },
			[]string{"connection_established/cancelled", "session_status_changed/cancelled"}},
		{func(string) error { return nil }, // it expires by itself
			[]string{"connection_established/expired", "session_status_changed/expired", "session_expired/expired"}},
	} {
		id := mustCreate(t, c, client.Question{Message: "ended", Timeout: time.Second}).SessionID
		if err := tc.end(id); err != nil {
			t.Fatal(err)
		}
		programtest.WaitFor(t, 10*time.Second, func() error {
			st, err := c.Status(ctx, id)
			if err == nil && !st.Status.Final() {
				return fmt.Errorf("still %s", st.Status)
			}
			return err
		})
		col := collect(c.Subscribe(ctx, id))
		col.wait(t)
		if got := col.summary(false); !slices.Equal(got, tc.want) || col.err != nil {
			t.Fatalf("yielded %v (err %v), want %v", got, col.err, tc.want)
		}
	}
}

func TestStreamRefusalsEndTheStream(t *testing.T) {
	t.Parallel()
	m := serve(t)
	c := clientOf(t, m)
	ctx := ctxFor(t, 30*time.Second)
	id := mustCreate(t, c, client.Question{Message: "mine"}).SessionID
	for _, tc := range []struct {
		name     string
		seq      func(func(client.Event, error) bool)
		sentinel error
		code     client.Code
		status   int
	}{
		{"wrong key", clientOf(t, m, client.WithAPIKey("wrong-key-0123456789-0123456789")).Watch(ctx), client.ErrUnauthorized, client.CodeUnauthorized, 401},
		{"another principal's session", clientOf(t, m, client.WithAPIKey(programtest.KeyB)).Subscribe(ctx, id), client.ErrNotFound, client.CodeSessionNotFound, 404},
		{"unknown session", c.Subscribe(ctx, "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10"), client.ErrNotFound, client.CodeSessionNotFound, 404},
		{"malformed id", c.Subscribe(ctx, "not-a-uuid"), client.ErrInvalid, client.CodeInvalidRequest, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := collect(tc.seq)
			col.wait(t)
			if len(col.events) != 0 {
				t.Fatalf("yielded %v before the refusal", col.summary(true))
			}
			wantAPIError(t, col.err, tc.sentinel, tc.code, tc.status)
		})
	}
	// The context ends a stream with its error.
	sctx, cancel := context.WithCancel(ctx)
	col := collect(c.Subscribe(sctx, id))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))
	cancel()
	col.wait(t)
	if !errors.Is(col.err, context.Canceled) {
		t.Fatalf("after cancel: %v", col.err)
	}
}

// splitStack is the production shape: NATS, an edge for REST and a
// notifier for WebSockets, each its own process (here in process).
type splitStack struct {
	nats     *programtest.Server
	edge     *program.Main
	notifier *program.Main
	addr     string // the notifier's, kept across restarts
}

func startSplit(t *testing.T) *splitStack {
	nats := programtest.StartNATS(t)
	s := &splitStack{nats: nats}
	s.edge = programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(nats.URL))
	s.notifier = programtest.MustRunMain(t, programtest.Role("notifier"), programtest.NATS(nats.URL), programtest.Env("NOTIFIER_ADDR", "127.0.0.1:0"))
	s.addr = strings.TrimPrefix(s.notifier.URL(), "http://")
	return s
}

// restartNotifier stops the notifier, runs between while none is up, and
// starts another on the same address.
func (s *splitStack) restartNotifier(t *testing.T, between func()) {
	t.Helper()
	if err := s.notifier.Close(); err != nil {
		t.Fatalf("stop the notifier: %v", err)
	}
	between()
	// The port is free again once the old listener is closed; another
	// process could take it meanwhile, which on a test machine it does not.
	programtest.WaitFor(t, 10*time.Second, func() error {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		return l.Close()
	})
	s.notifier = programtest.MustRunMain(t, programtest.Role("notifier"), programtest.NATS(s.nats.URL), programtest.Env("NOTIFIER_ADDR", s.addr))
}

// A notifier restart in the middle of a Subscribe: the session is answered
// while no notifier runs, and the stream still yields the answer, once.
func TestSubscribeAcrossANotifierRestart(t *testing.T) {
	t.Parallel()
	s := startSplit(t)
	var drops atomic.Int32
	c := clientOf(t, s.edge, client.WithNotifierURL(s.notifier.URL()))
	ctx := ctxFor(t, 60*time.Second)
	id := mustCreate(t, c, client.Question{Message: "Across a restart?", Options: []string{"Yes", "No"}}).SessionID
	col := collect(c.Subscribe(ctx, id, client.OnDisconnect(func(error, time.Duration) { drops.Add(1) })))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))

	s.restartNotifier(t, func() {
		programtest.WaitFor(t, 10*time.Second, programtest.Until("the client noticed", func() bool { return drops.Load() > 0 }))
		if _, err := c.Submit(ctx, id, client.Answer{SelectedOptions: []string{"Yes"}}); err != nil {
			t.Fatal(err)
		}
	})
	col.wait(t)
	want := []string{"connection_established/pending", "connection_established/completed", "session_status_changed/completed", "feedback_submitted/completed"}
	if got := col.summary(false); !slices.Equal(got, want) || col.err != nil {
		t.Fatalf("yielded %v (err %v), want %v", got, col.err, want)
	}
}

// Watch across a notifier restart: what happened meanwhile (an answer, a new
// session, a cancel) is replayed once, in order, and the stream goes on live.
func TestWatchAcrossANotifierRestart(t *testing.T) {
	t.Parallel()
	s := startSplit(t)
	var drops atomic.Int32
	c := clientOf(t, s.edge, client.WithNotifierURL(s.notifier.URL()))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	col := collect(c.Watch(ctx, client.OnDisconnect(func(error, time.Duration) { drops.Add(1) })))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))
	a := mustCreate(t, c, client.Question{Message: "A"}).SessionID
	programtest.WaitFor(t, 10*time.Second, programtest.Until("A created", func() bool {
		return col.has(func(ev client.Event) bool { return ev.Type == client.EventCreated && ev.SessionID == a })
	}))
	var b, d string
	s.restartNotifier(t, func() {
		programtest.WaitFor(t, 10*time.Second, programtest.Until("the client noticed", func() bool { return drops.Load() > 0 }))
		if _, err := c.Submit(ctx, a, client.Answer{FreeText: "done"}); err != nil {
			t.Fatal(err)
		}
		b = mustCreate(t, c, client.Question{Message: "B"}).SessionID
		d = mustCreate(t, c, client.Question{Message: "D"}).SessionID
		if err := c.Cancel(ctx, d); err != nil {
			t.Fatal(err)
		}
	})
	programtest.WaitFor(t, 20*time.Second, programtest.Until("D's cancel", func() bool {
		return col.has(func(ev client.Event) bool { return ev.Type == client.EventStatusChanged && ev.SessionID == d })
	}))
	// Live again: a new session arrives through the new notifier.
	e := mustCreate(t, c, client.Question{Message: "E"}).SessionID
	programtest.WaitFor(t, 10*time.Second, programtest.Until("E created", func() bool {
		return col.has(func(ev client.Event) bool { return ev.Type == client.EventCreated && ev.SessionID == e })
	}))
	cancel()
	col.wait(t)
	got := col.summary(true)
	want := []string{
		"connection_established/",
		"session_created/pending/" + a[:8],
		"connection_established/",
		"session_status_changed/completed/" + a[:8],
		"feedback_submitted/completed/" + a[:8],
		"session_created/pending/" + b[:8],
		"session_status_changed/cancelled/" + d[:8],
		"session_created/pending/" + e[:8],
	}
	if !slices.Equal(got, want) {
		t.Fatalf("yielded\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var revs []uint64
	for _, ev := range col.events {
		if ev.Type != client.EventConnected {
			revs = append(revs, ev.Revision)
		}
	}
	if !slices.IsSorted(revs) {
		t.Fatalf("revisions out of order: %v", revs)
	}
}

// clientGoroutines lists the goroutines running code of this package.
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "feedbackd/pkg/client.") {
			out = append(out, g)
		}
	}
	return out
}

// Every way a stream ends stops its goroutines: the session's end, the
// loop breaking, the context ending. (Not parallel: other tests' streams
// would be counted.)
func TestStreamsLeaveNoGoroutineBehind(t *testing.T) {
	m := serve(t)
	c := clientOf(t, m)
	ctx := ctxFor(t, 60*time.Second)
	id := mustCreate(t, c, client.Question{Message: "leak?"}).SessionID
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.Subscribe(ctx, id) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range c.Watch(ctx) {
		break
	}
	wctx, cancel := context.WithCancel(ctx)
	col := collect(c.Watch(wctx))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))
	cancel()
	col.wait(t)
	programtest.WaitFor(t, 10*time.Second, func() error {
		if g := clientGoroutines(); len(g) > 0 {
			return fmt.Errorf("%d goroutines of pkg/client still run:\n%s", len(g), strings.Join(g, "\n\n"))
		}
		return nil
	})
}

// Why a session was cancelled, when the cancel said (a person declining
// inside an MCP client, say), reaches the owner from every read: Status,
// List and the stream's status change.
func TestCancelReasonIsReadEverywhere(t *testing.T) {
	t.Parallel()
	m := serve(t)
	c := clientOf(t, m)
	ctx := ctxFor(t, 30*time.Second)
	id := mustCreate(t, c, client.Question{Message: "Tell me?"}).SessionID
	col := collect(c.Subscribe(ctx, id))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("connected", func() bool { return col.has(connected) }))
	if _, err := m.Backend().Service().CancelFor(ctx, programtest.PrincipalA, id, "declined by the person"); err != nil {
		t.Fatal(err)
	}
	col.wait(t)
	if got := col.summary(false); len(got) != 2 || got[1] != "session_status_changed/cancelled" || col.events[1].Reason != "declined by the person" {
		t.Fatalf("yielded %v, last %+v", got, col.events[len(col.events)-1])
	}
	st, err := c.Status(ctx, id)
	if err != nil || st.Status != client.StatusCancelled || st.CancelReason != "declined by the person" {
		t.Fatalf("status %+v %v", st, err)
	}
	found := false
	for s, err := range c.List(ctx, client.ListOptions{Status: client.StatusCancelled}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == id {
			found = true
			if s.CancelReason != "declined by the person" {
				t.Fatalf("list item %+v", s)
			}
		}
	}
	if !found {
		t.Fatal("the cancelled session is not listed")
	}
}
