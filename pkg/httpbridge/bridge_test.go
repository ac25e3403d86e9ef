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
		if !errors.Is(context.Cause(r.Context()), context.Canceled) {
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
