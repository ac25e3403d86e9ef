package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/feedbackd/feedbackd/pkg/browsertest"
)

// The browser Start returns loads a page and runs its script.
func TestStartedBrowserRunsAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="p"></p><script>document.getElementById("p").textContent = "ran"</script>`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(browsertest.Start(t), 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("p").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if got != "ran" {
		t.Fatalf("page text %q, want the script's", got)
	}
}
