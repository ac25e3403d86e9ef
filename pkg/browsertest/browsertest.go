// Package browsertest starts the headless Chromium that the browser tests
// drive (the feedback page, the inbox, the ask command's link, a page
// answer withdrawing an MCP form). Without Chromium a test skips, except in
// CI (CI set), where a missing browser is a failure: .ci/deps.sh installs
// Debian's chromium. It must not know anything of feedbackd.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path returns where Chromium is, or skips t (fails it in CI) without one.
func Path(t testing.TB) string {
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

// Start starts a headless Chromium with a profile of its own, quiet (no
// background networking, sync or component updates), and returns the
// context of its first tab. The browser is stopped when t ends. The context
// has no deadline: the browser's life is bound to the context of its first
// run, so a caller puts deadlines on the tabs it opens from it.
func Start(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
