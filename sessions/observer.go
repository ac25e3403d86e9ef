package sessions

import "time"

// Observer learns what a Service did, for metrics. Each call reports an
// effect this Service itself made — a create it stored, a transition whose
// compare-and-swap it won — so in a cluster each session is reported once,
// by the one replica that changed it, rather than once per replica watching
// the change feed. Methods are called on the request's goroutine and must be
// quick.
type Observer interface {
	SessionCreated()
	// SessionCompleted reports an answer, timeToAnswer after creation.
	SessionCompleted(timeToAnswer time.Duration)
	// SessionExpired reports an expiry written lateness after the deadline.
	SessionExpired(lateness time.Duration)
	SessionCancelled()
	// WaitStarted reports a caller starting to wait for an answer; done is
	// called when the wait ends.
	WaitStarted() (done func())
}

// WithObserver reports what the Service does to o; nil reports nothing.
func WithObserver(o Observer) Option {
	return func(s *Service) {
		if o == nil {
			o = nopObserver{}
		}
		s.observe = o
	}
}

// nopObserver is the Observer of a Service given none.
type nopObserver struct{}

func (nopObserver) SessionCreated()                {}
func (nopObserver) SessionCompleted(time.Duration) {}
func (nopObserver) SessionExpired(time.Duration)   {}
func (nopObserver) SessionCancelled()              {}
func (nopObserver) WaitStarted() func()            { return func() {} }

// observeFinished reports the transition out of pending that produced next.
func (s *Service) observeFinished(next *Session) {
	switch next.Status {
	case StatusCompleted:
		if next.SubmittedAt != nil {
			s.observe.SessionCompleted(next.SubmittedAt.Sub(next.CreatedAt))
		}
	case StatusExpired:
		if next.FinishedAt != nil {
			s.observe.SessionExpired(next.FinishedAt.Sub(next.ExpiresAt))
		}
	case StatusCancelled:
		s.observe.SessionCancelled()
	}
}
