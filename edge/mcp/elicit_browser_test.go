package mcp_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/browsertest"
)

// chromium starts a headless Chromium for one test (45 s at most), or skips
// the test where there is none (CI installs it and must run this).
func chromium(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(browsertest.Start(t), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The client shows its form, nobody answers it, and the person answers on
// the feedback page in a real browser instead: the agent's call returns the
// page's answer at once, and the client's form is withdrawn.
func TestMCPElicitationPageAnswersFirstInChromium(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	e := newEdge(t)
	a := &asker{answer: neverAnswer}
	c := connectAsking(t, legacyAsking[0], e.url, newKeyTransport(keyA), a, "form")
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		done <- c.call(t, context.Background(), "interactive_feedback", map[string]any{
			"message": "Which colour?", "predefinedOptions": []string{"Red", "Green"}, "multiSelect": false, "waitSeconds": 40,
		})
	}()
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the form to be shown in the client", func() bool { asked, _, _ := a.snapshot(); return len(asked) == 1 }))
	id := pendingSession(t, e, keyA)
	err := chromedp.Do(browser,
		chromedp.Navigate(e.url+"/feedback/"+id+"?lang=en"),
		chromedp.WaitVisible(chromedp.ID("answer-form")),
		chromedp.Click(chromedp.ID("opt-1")),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-view="submitted"]`)),
	)
	if err != nil {
		t.Fatalf("answer in the browser: %v", err)
	}
	select {
	case res := <-done:
		if out := structured(t, res); out.Status != "completed" || out.Feedback.CombinedFeedback != "Green" {
			t.Fatalf("answer = %+v", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return the page's answer")
	}
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the client's form to be withdrawn", func() bool { _, w, _ := a.snapshot(); return w == 1 }))
}
