package metrics

import "time"

// Sessions records the session lifecycle. Its method set is that of
// sessions.Observer: install it with sessions.WithObserver(metrics.Sessions{}).
//
// It counts what this process did — the creates it stored and the
// transitions out of pending whose compare-and-swap it won — not what it saw
// on the change feed. Every process sees every event on the feed, so counting
// there would multiply each session by the number of replicas; counting the
// winning writes means a cluster-wide sum(...) counts each session exactly
// once, whichever replica, person or expirer made the change.
type Sessions struct{}

// SessionCreated counts a stored new session.
func (Sessions) SessionCreated() { sessionsCreated.Inc() }

// SessionCompleted counts an answer and how long it took since creation.
func (Sessions) SessionCompleted(timeToAnswer time.Duration) {
	sessionsFinished.WithLabelValues("completed").Inc()
	observeTimeToAnswer(timeToAnswer)
}

// SessionExpired counts an expiry and how long after the deadline it was
// written.
func (Sessions) SessionExpired(lateness time.Duration) {
	sessionsFinished.WithLabelValues("expired").Inc()
	if lateness < 0 {
		lateness = 0
	}
	expiryLateness.Observe(lateness.Seconds())
}

// SessionCancelled counts a cancellation.
func (Sessions) SessionCancelled() { sessionsFinished.WithLabelValues("cancelled").Inc() }

// WaitStarted counts one of the service's waits, as the package-level
// WaitStarted does.
func (Sessions) WaitStarted() (done func()) { return WaitStarted() }

func observeTimeToAnswer(d time.Duration) {
	if d < 0 {
		d = 0
	}
	timeToAnswer.Observe(d.Seconds())
}
