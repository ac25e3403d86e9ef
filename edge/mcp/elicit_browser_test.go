package mcp_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// chromium starts a headless Chromium for one test, or skips the test
// where there is none (CI installs it and must run this).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser tests: run .ci/deps.sh")
		}
		t.Skip("chromium is not installed; the browser tests run in CI")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	ctx, cancelDeadline := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(cancelDeadline)
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
