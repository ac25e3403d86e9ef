package clientcmd_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/feedbackd/feedbackd/pkg/browsertest"
)

// A person answers the question of feedbackd ask on its page, in a real
// browser, and ask prints the answer and exits 0.
func TestAskAnsweredOnThePageInChromium(t *testing.T) {
	t.Parallel()
	m, _ := server(t)
	p := start(t, m, "ask", "Ship **v2** today?", "--option", "Yes", "--option", "No", "--expect", "Yes")
	link, _ := p.link(t)

	ctx := browsertest.Start(t)
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
