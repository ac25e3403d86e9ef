package program

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
)

// While one server hands the address over to the next, clients keep
// connecting: every one of them is answered, by one server or the other,
// and none is refused.
func TestHandoffAnswersEveryConnectionAcrossTheSwitch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHandoff(ln)
	defer h.Close()
	answer := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })
	}
	first := serveStarting(h, answer("first"))
	url := "http://" + h.Addr().String() + "/"
	var answers sync.Map
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(url)
				if err != nil {
					failed.Add(1)
					t.Errorf("GET during the handoff: %v", err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				v, _ := answers.LoadOrStore(string(b), new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		})
	}
	waitAnswered := func(name string) {
		t.Helper()
		poll.Until(t, 5*time.Second, func() error {
			if failed.Load() > 0 {
				t.Fatal("a request failed")
			}
			if v, ok := answers.Load(name); !ok || v.(*atomic.Int64).Load() == 0 {
				return fmt.Errorf("%s has not answered", name)
			}
			return nil
		})
	}
	waitAnswered("first")
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := &http.Server{Handler: answer("second")}
	secondDone := make(chan error, 1)
	go func() { secondDone <- second.Serve(h.stage()) }()
	waitAnswered("second")
	close(stop)
	wg.Wait()
	_ = second.Close()
	if err := <-secondDone; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("second server: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", h.Addr().String()); err == nil {
		t.Fatal("the address still accepts after Close")
	}
}
