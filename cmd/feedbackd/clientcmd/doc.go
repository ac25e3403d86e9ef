// Package clientcmd is the client side of the feedbackd command: `feedbackd
// ask`, which asks a person a question from a script and exits with a status
// that says how it was answered, `feedbackd watch`, which follows the
// caller's sessions live in a terminal, and `feedbackd inbox-link`, which
// mints (lists, revokes) the links that open the caller's inbox in a browser.
// All are built on pkg/client and documented in README.md ("Use it from
// scripts", "Get notified") and docs/client.md, docs/inbox.md.
//
// It must not know the server's packages: it talks to a feedbackd over HTTP
// like any other client, so it works against any version that speaks the
// documented API.
package clientcmd
