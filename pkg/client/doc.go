// Package client is a Go client of feedbackd: ask a person a question, wait
// for the answer, and follow sessions live, over the REST API and the
// WebSocket described in docs/api.md and docs/notifier.md.
//
//	c, err := client.FromEnv() // FEEDBACKD_URL, FEEDBACKD_API_KEY or FEEDBACKD_TOKEN
//	created, err := c.Create(ctx, client.Question{Message: "Ship it?", Options: []string{"Yes", "No"}})
//	fmt.Println("answer at", created.FeedbackURL)
//	res, err := c.Wait(ctx, created.SessionID)
//	switch {
//	case errors.Is(err, client.ErrExpired): // nobody answered in time
//	case err == nil && res.Feedback.Chose("Yes"):
//	}
//
// Every method takes a context. Errors the server answers are *APIError
// values that match one sentinel each (ErrInvalid, ErrNotFound, ErrExpired,
// ErrRateLimited, ...) with errors.Is. Requests that are safe to repeat
// (reads, the long poll, a cancel) are retried after 503, 429 and network
// errors, as Retry-After says; a create or a submit never is. Wait chains
// long polls across the server's 60-second cap until the session ends.
// Subscribe and Watch reconnect with backoff and resume by revision, so no
// event is missed or yielded twice. See docs/client.md.
//
// The package stands alone: it mirrors the documented JSON in its own types
// and must not import the server's packages, so that a program using it
// needs nothing of the server.
package client
