package program

import (
	"fmt"
	"strings"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/clientcmd"
)

// commands are what feedbackd runs to its end, as opposed to roles.
var commands = map[string]func(m *Main, getenv func(string) string) error{
	"version":   func(m *Main, _ func(string) string) error { _, err := fmt.Fprintln(m.Stdout, m.version()); return err },
	"--version": func(m *Main, _ func(string) string) error { _, err := fmt.Fprintln(m.Stdout, m.version()); return err },
	"help":      func(m *Main, _ func(string) string) error { _, err := fmt.Fprint(m.Stdout, usage()); return err },
	"-h":        func(m *Main, _ func(string) string) error { _, err := fmt.Fprint(m.Stdout, usage()); return err },
	"--help":    func(m *Main, _ func(string) string) error { _, err := fmt.Fprint(m.Stdout, usage()); return err },
	"token": func(m *Main, getenv func(string) string) error {
		return runToken(m.args, m.Stdout, m.Stderr, getenv)
	},
	"apikey":      func(m *Main, _ func(string) string) error { return runAPIKey(m.args, m.Stdout, m.Stderr) },
	"healthcheck": func(m *Main, _ func(string) string) error { return runHealthcheck(m.args, m.Stdout) },
	// The client commands: feedbackd as its own client (pkg/client).
	"ask": func(m *Main, getenv func(string) string) error {
		return clientcmd.Ask(clientcmd.Env{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: getenv}, m.args)
	},
	"watch": func(m *Main, getenv func(string) string) error {
		return clientcmd.Watch(clientcmd.Env{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: getenv}, m.args)
	},
	"inbox-link": func(m *Main, getenv func(string) string) error {
		return clientcmd.InboxLink(clientcmd.Env{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: getenv}, m.args)
	},
}

// usage is `feedbackd help`: the roles from the role table, then the
// commands.
func usage() string {
	var b strings.Builder
	b.WriteString("feedbackd — ask people questions on behalf of AI agents\n\nUsage:\n")
	for i, r := range roles {
		name := r.name
		if i == 0 {
			name = "[" + name + "]"
		}
		fmt.Fprintf(&b, "  feedbackd %-10s %s\n", name, r.about)
	}
	b.WriteString(`  feedbackd ask "Ship it?" --option Yes --option No [--expect Yes]
                       ask a person from a script; exits 0 answered, 2 expired, 3 cancelled,
                       4 not as expected (feedbackd ask --help)
  feedbackd watch      follow your sessions live, one line per event (--json)
  feedbackd inbox-link print a link that opens your inbox in a browser (--name, --ttl;
                       --list, --revoke ID)
  feedbackd token      print a signed HS256 JWT (--sub, --ttl, --claim k=v)
  feedbackd apikey     print a new random API key
  feedbackd healthcheck URL   exit 0 when URL answers 200 (for container health checks)
  feedbackd version    print the version

Configuration is read from the environment (and .env / .dev.vars); see
README.md and docs/api.md, "Configuration".
`)
	return b.String()
}
