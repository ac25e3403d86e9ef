package clientcmd

// The exit statuses of feedbackd ask (README.md, "Use it from scripts").
const (
	// ExitAnswered: the question was answered (and, with --expect, as
	// expected).
	ExitAnswered = 0
	// ExitFailed: a usage error, a refused request, a server that cannot be
	// reached.
	ExitFailed = 1
	// ExitExpired: nobody answered before the timeout.
	ExitExpired = 2
	// ExitCancelled: the question was cancelled by its owner elsewhere.
	ExitCancelled = 3
	// ExitUnexpected: answered, but not with the --expect answer.
	ExitUnexpected = 4
	// ExitInterrupted and ExitTerminated: SIGINT (Ctrl+C) or SIGTERM
	// stopped ask, which cancelled the question first (128 + the signal,
	// as shells report it).
	ExitInterrupted = 130
	ExitTerminated  = 143
)

// ExitError ends a command with an exit status of its own. Msg, if any, is
// printed to stderr by the program before it exits.
type ExitError struct {
	Code int
	Msg  string
}

// Error is the message.
func (e *ExitError) Error() string { return e.Msg }

// ExitCode is the process's exit status.
func (e *ExitError) ExitCode() int { return e.Code }

func exitf(code int, msg string) error { return &ExitError{Code: code, Msg: msg} }
