package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

// What a question costs end to end through the client and the real server
// (embedded NATS): create, answer, read the result.
func BenchmarkCreateSubmitResult(b *testing.B) {
	m := programtest.MustRunMain(b)
	c, err := client.New(client.WithBaseURL(m.URL()), client.WithAPIKey(programtest.KeyA))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	q := client.Question{Message: "Ship it?", Options: []string{"Yes", "No"}}
	for b.Loop() {
		created, err := c.Create(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Submit(ctx, created.SessionID, client.Answer{SelectedOptions: []string{"Yes"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Result(ctx, created.SessionID); err != nil {
			b.Fatal(err)
		}
	}
}

// polls tells when a long poll leaves the client.
type polls struct {
	sent chan struct{}
	next http.RoundTripper
}

func (p *polls) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/result") {
		p.sent <- struct{}{}
	}
	return p.next.RoundTrip(req)
}

// How long a waiting client takes to hear of the answer: from the submit to
// Wait's return, with Wait's long poll already sent (the server wakes it
// from the change feed).
func BenchmarkWaitReturnsOnTheAnswer(b *testing.B) {
	m := programtest.MustRunMain(b)
	tr := &polls{sent: make(chan struct{}, 1), next: http.DefaultTransport}
	c, err := client.New(client.WithBaseURL(m.URL()), client.WithAPIKey(programtest.KeyA), client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		created, err := c.Create(ctx, client.Question{Message: "Now?"})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Wait(ctx, created.SessionID)
			done <- err
		}()
		<-tr.sent
		b.StartTimer()
		if _, err := c.Submit(ctx, created.SessionID, client.Answer{FreeText: "now"}); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
