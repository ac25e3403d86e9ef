// Package requestid names each request so that its log lines can be found
// together: it checks ids offered by clients, makes new ones, carries them in
// a context, and adds them to every slog record logged with that context.
// It knows nothing of HTTP frameworks or of the domain.
package requestid
