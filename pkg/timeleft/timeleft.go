// Package timeleft says how long a question stays open, in the words every
// notification uses (Telegram, Slack, ntfy, Web Push), so that a person sees
// the same "⏳ 10 min left" wherever the question reaches them.
package timeleft

import (
	"fmt"
	"time"
)

// String is d, the time until a deadline, for people: seconds under a
// minute, whole minutes (rounded) under an hour, hours and minutes under two
// days, then days.
func String(d time.Duration) string {
	if d <= 0 {
		return "no time left"
	}
	if d < time.Minute {
		return fmt.Sprintf("%d s left", max(1, int(d/time.Second)))
	}
	d = d.Round(time.Minute)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min left", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h left", h)
		}
		return fmt.Sprintf("%d h %d min left", h, m)
	}
	return fmt.Sprintf("%d days left", int(d/(24*time.Hour)))
}

// Until is String of the time from now to deadline.
func Until(deadline, now time.Time) string { return String(deadline.Sub(now)) }
