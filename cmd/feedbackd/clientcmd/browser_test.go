package clientcmd_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium, or skips (fails in CI) without it, as
// edge/page_browser_test.go does.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests: run .ci/deps.sh")
	}
	t.Skip("chromium is not installed; the browser tests run in CI (.ci/deps.sh installs it)")
	return ""
}

// A person answers the question of feedbackd ask on its page, in a real
// browser, and ask prints the answer and exits 0.
func TestAskAnsweredOnThePageInChromium(t *testing.T) {
	t.Parallel()
	path := chromium(t)
	m, _ := server(t)
	p := start(t, m, "ask", "Ship **v2** today?", "--option", "Yes", "--option", "No", "--expect", "Yes")
	link, _ := p.link(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelDeadline := context.WithTimeout(ctx, 60*time.Second)
	defer cancelDeadline()
	err := chromedp.Do(ctx,
		chromedp.Navigate(link+"?lang=en"),
		chromedp.WaitVisible(chromedp.ID("answer-form")),
		chromedp.Click(chromedp.ID("opt-0")),
		chromedp.SendKeys(chromedp.ID("free-text"), "Go ahead."),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-view="submitted"]`)),
	)
	if err != nil {
		t.Fatalf("answer in Chromium: %v", err)
	}
	p.expect(t, 0, "Yes\n\nGo ahead.\n", "")
}
