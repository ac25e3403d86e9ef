// Package clientcmd is the client side of the feedbackd command: `feedbackd
// ask`, which asks a person a question from a script and exits with a status
// that says how it was answered, and `feedbackd watch`, which follows the
// caller's sessions live in a terminal. Both are built on pkg/client and
// documented in README.md ("Use it from scripts") and docs/client.md.
//
// It must not know the server's packages: it talks to a feedbackd over HTTP
// like any other client, so it works against any version that speaks the
// documented API.
package clientcmd
