package timeleft_test

import (
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/timeleft"
)

func TestString(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "no time left"},
		{0, "no time left"},
		{300 * time.Millisecond, "1 s left"},
		{45 * time.Second, "45 s left"},
		{89 * time.Second, "1 min left"},
		// A deadline read a moment after it was set still says 10 min.
		{10*time.Minute - 200*time.Millisecond, "10 min left"},
		{59*time.Minute + 45*time.Second, "1 h left"},
		{time.Hour, "1 h left"},
		{90 * time.Minute, "1 h 30 min left"},
		{47*time.Hour + 59*time.Minute, "47 h 59 min left"},
		{72*time.Hour + 5*time.Hour, "3 days left"},
	} {
		if got := timeleft.String(c.d); got != c.want {
			t.Errorf("String(%s) = %q, want %q", c.d, got, c.want)
		}
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := timeleft.Until(now.Add(90*time.Minute), now); got != "1 h 30 min left" {
		t.Errorf("Until = %q", got)
	}
}
