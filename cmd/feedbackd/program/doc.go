// Package program is the feedbackd program: configuration read once from
// the environment (docs/api.md, "Configuration"), the table of roles and the
// parts each runs (serve, edge, notifier, expirer, dispatcher, nats), and
// their life cycle: start in order, stop in reverse, one place that closes
// what was opened on every path. It is the only package that knows every other one;
// cmd/feedbackd only parses, runs, waits for a signal and closes.
//
// Tests start the real program in process through programtest.MustRunMain,
// and tools open the same backend with OpenBackend, so the wiring users run
// is the wiring tests and benchmarks exercise.
package program
