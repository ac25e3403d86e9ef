package dispatch

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// The words of notifications to people. They are English for now; the
// inbox settings will carry a language when the channels are translated.

// headline is the one line a notification leads with: the first non-blank
// line of the question, at most max characters.
func headline(s *sessions.Session, max int) string {
	for line := range strings.Lines(s.Message) {
		if t := strings.TrimSpace(line); t != "" {
			return cut(t, max)
		}
	}
	return "A question for you"
}

// cut shortens s to at most max characters, marking the cut.
func cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// timeLeft says how long the question stays open, coarsely.
func timeLeft(expires, now time.Time) string {
	d := expires.Sub(now)
	switch {
	case d <= 0:
		return "no time left"
	case d < time.Minute:
		return fmt.Sprintf("%d s left", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min left", int(d.Round(time.Minute).Minutes()))
	}
	h := int(d.Hours())
	if m := int(d.Minutes()) % 60; m != 0 {
		return fmt.Sprintf("%d h %d min left", h, m)
	}
	return fmt.Sprintf("%d h left", h)
}

// ending says how a session ended.
func ending(e channels.Event) string {
	switch e {
	case channels.EventCompleted:
		return "Answered"
	case channels.EventExpired:
		return "Expired without an answer"
	case channels.EventCancelled:
		return "Cancelled by the agent"
	}
	return ""
}
