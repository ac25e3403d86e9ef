package httpbridge_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/pkg/requestid"
)

type ctxKey struct{}

// serve runs app on 127.0.0.1 until the test ends and returns its URL.
func serve(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-done
	})
	return "http://" + ln.Addr().String()
}

// waitUntil fails the test unless ch closes within d.
func waitUntil(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %s", what, d)
	}
}

// A streamed response outlives the fasthttp handler: what the handler reads
// of its request must not be fasthttp's reused buffers, and what a fiber
// middleware established travels in the context.
func TestTheRequestIsTheHandlersOwnAndCarriesItsContext(t *testing.T) {
	b := httpbridge.New()
	t.Cleanup(b.Close)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(requestid.NewContext(c.UserContext(), "rid-"+c.Get("X-Tag")))
		return c.Next()
	})
	got := make(chan string, 16)
	app.Post("/stream", b.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // from here on fasthttp has moved on
		body, _ := io.ReadAll(r.Body)
		// Other requests meanwhile reuse the buffers this one came in.
		for i := range 3 {
			res, err := http.Get(strings.TrimSuffix(r.Header.Get("X-Base"), "/") + fmt.Sprintf("/other?i=%d&pad=%s", i, strings.Repeat("z", 200)))
			if err == nil {
				res.Body.Close()
			}
		}
		got <- fmt.Sprintf("%s %s %s %s %v", r.Method, r.URL.Path, r.Header.Get("X-Tag"), body, r.Context().Value(ctxKey{}))
		got <- requestid.FromContext(r.Context())
		_, _ = io.WriteString(w, "data: done\n\n")
	}), func(c *fiber.Ctx, ctx context.Context) context.Context {
		return context.WithValue(ctx, ctxKey{}, "from-"+c.Path())
	}))
	app.Get("/other", func(c *fiber.Ctx) error { return c.SendString(strings.Repeat("y", 300)) })
	base := serve(t, app)

	req, _ := http.NewRequest(http.MethodPost, base+"/stream", strings.NewReader("the-body"))
	req.Header.Set("X-Tag", "tag-1")
	req.Header.Set("X-Base", base)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, _ := bufio.NewReader(res.Body).ReadString('\n')
	if line != "data: done\n" {
		t.Fatalf("stream: %q", line)
	}
	if seen := <-got; seen != "POST /stream tag-1 the-body from-/stream" {
		t.Fatalf("the handler saw %q", seen)
	}
	if id := <-got; id != "rid-tag-1" {
		t.Fatalf("request id %q", id)
	}
}

// fasthttp never says that a client left; the bridge ends the request's
// context at the first write that fails.
func TestAClientThatLeavesEndsTheRequestContext(t *testing.T) {
	b := httpbridge.New()
	t.Cleanup(b.Close)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	started, ended := make(chan struct{}), make(chan struct{})
	app.Get("/stream", b.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(started)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				close(ended)
				return
			case <-tick.C:
				_, _ = io.WriteString(w, ": tick\n\n")
				w.(http.Flusher).Flush()
			}
		}
	}), nil))
	base := serve(t, app)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	waitUntil(t, started, 5*time.Second, "the stream")
	_ = conn.Close()
	waitUntil(t, ended, 10*time.Second, "the end of the request's context after the client left")
}

// Close ends every request's context at once, so that a server with long
// streams can shut down.
func TestCloseEndsEveryRequest(t *testing.T) {
	b := httpbridge.New()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	waiting := make(chan struct{})
	app.Get("/wait", b.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(waiting)
		<-r.Context().Done()
		if !errors.Is(context.Cause(r.Context()), httpbridge.ErrShuttingDown) {
			t.Errorf("cause %v", context.Cause(r.Context()))
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}), nil))
	base := serve(t, app)
	done := make(chan int, 1)
	go func() {
		res, err := http.Get(base + "/wait")
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	waitUntil(t, waiting, 5*time.Second, "the request")
	b.Close()
	select {
	case status := <-done:
		if status != http.StatusServiceUnavailable {
			t.Fatalf("status %d", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request outlived Close")
	}
	if b.Context().Err() == nil {
		t.Fatal("the bridge's context is still live")
	}
}

// rawRequest sends a GET for path on a fresh connection and returns it.
func rawRequest(t *testing.T, base, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	return conn
}

// A handler that writes nothing while it waits (an MCP call answered in
// JSON, say) still learns that its client left: the socket is looked at
// while the request runs.
func TestAClientThatLeavesEndsAQuietRequest(t *testing.T) {
	b := httpbridge.New()
	t.Cleanup(b.Close)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	started, ended := make(chan struct{}), make(chan error, 1)
	app.Get("/quiet", b.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		ended <- context.Cause(r.Context())
	}), nil))
	base := serve(t, app)
	conn := rawRequest(t, base, "/quiet")
	waitUntil(t, started, 5*time.Second, "the request")
	left := time.Now()
	_ = conn.Close()
	select {
	case cause := <-ended:
		if !errors.Is(cause, httpbridge.ErrClientGone) {
			t.Fatalf("cause %v, want ErrClientGone", cause)
		}
		if took := time.Since(left); took > 2*httpbridge.WatchInterval+time.Second {
			t.Errorf("noticed %s after the client left", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request's context outlived its client")
	}
	waitNoWatches(t, b)
}

// waitNoWatches waits until the bridge watches no client any more.
func waitNoWatches(t *testing.T, b *httpbridge.Bridge) {
	t.Helper()
	poll.Until(t, 5*time.Second, func() error {
		if n := b.Watching(); n != 0 {
			return fmt.Errorf("%d clients still watched", n)
		}
		return nil
	})
}

// A fiber handler that waits (a REST long poll) watches its client with
// Watch: the wait ends when the client leaves, and a client that stays is
// left alone.
func TestWatchEndsAWaitWhenItsClientLeaves(t *testing.T) {
	b := httpbridge.New()
	t.Cleanup(b.Close)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	causes := make(chan error, 2)
	app.Get("/wait", func(c *fiber.Ctx) error {
		ctx, cancel := b.Watch(c, c.UserContext())
		defer cancel()
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return c.SendStatus(http.StatusServiceUnavailable)
		case <-time.After(time.Duration(c.QueryInt("ms")) * time.Millisecond):
			return c.SendString("done")
		}
	})
	base := serve(t, app)

	// Stays: answered when its wait runs out, after several looks.
	res, err := http.Get(base + "/wait?ms=" + fmt.Sprint(3*httpbridge.WatchInterval.Milliseconds()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "done" {
		t.Fatalf("a client that stayed got %d %q", res.StatusCode, body)
	}

	conn := rawRequest(t, base, "/wait?ms=60000")
	poll.Until(t, 5*time.Second, poll.True("the wait is watched", func() bool { return b.Watching() != 0 }))
	_ = conn.Close()
	select {
	case cause := <-causes:
		if !errors.Is(cause, httpbridge.ErrClientGone) {
			t.Fatalf("cause %v", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait outlived its client")
	}
	waitNoWatches(t, b)
}

// Drain ends every wait, now and later, but not the requests: each waiter
// still answers its client. Close then ends the requests themselves.
func TestDrainEndsWaitsAndLetsTheWaitersAnswer(t *testing.T) {
	b := httpbridge.New()
	t.Cleanup(b.Close)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	waiting := make(chan struct{}, 2)
	app.Get("/bridged", b.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := b.WaitContext(r.Context())
		defer cancel()
		waiting <- struct{}{}
		<-ctx.Done()
		if r.Context().Err() != nil {
			t.Error("Drain ended the request, not only its wait")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, context.Cause(ctx).Error())
	}), nil))
	app.Get("/native", func(c *fiber.Ctx) error {
		ctx, cancel := b.Watch(c, c.UserContext())
		defer cancel()
		waiting <- struct{}{}
		<-ctx.Done()
		return c.Status(http.StatusServiceUnavailable).SendString(context.Cause(ctx).Error())
	})
	base := serve(t, app)
	answers := make(chan string, 3)
	get := func(path string) {
		res, err := http.Get(base + path)
		if err != nil {
			answers <- err.Error()
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		answers <- fmt.Sprintf("%d %s", res.StatusCode, body)
	}
	go get("/bridged")
	go get("/native")
	<-waiting
	<-waiting
	b.Drain()
	want := "503 " + httpbridge.ErrShuttingDown.Error()
	for range 2 {
		select {
		case got := <-answers:
			if got != want {
				t.Fatalf("answer %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter did not answer after Drain")
		}
	}
	// A wait begun after Drain ends at once.
	go get("/native")
	<-waiting
	select {
	case got := <-answers:
		if got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a wait begun after Drain went on")
	}
	select {
	case <-b.Draining():
	default:
		t.Fatal("Draining is not closed")
	}
	if b.Context().Err() != nil {
		t.Fatal("Drain closed the bridge")
	}
}
