package expirer

import (
	"testing"
	"time"
)

func TestScheduleTimeKeepsMillisecondsAndRoundsUpOnlyToWholeSeconds(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 5, 1e6, time.FixedZone("CET", 3600))
	if got, want := scheduleTime(at, false), "2026-03-01T11:00:05.001Z"; got != want {
		t.Errorf("sub-second: got %s, want %s", got, want)
	}
	if got, want := scheduleTime(at, true), "2026-03-01T11:00:06Z"; got != want {
		t.Errorf("whole seconds: got %s, want %s (rounded up, never down)", got, want)
	}
	exact := time.Date(2026, 3, 1, 11, 0, 5, 0, time.UTC)
	if got, want := scheduleTime(exact, true), "2026-03-01T11:00:05Z"; got != want {
		t.Errorf("whole second deadline: got %s, want %s", got, want)
	}
}
