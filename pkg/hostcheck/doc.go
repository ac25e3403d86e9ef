// Package hostcheck decides which Host header values a listener answers: the
// defence against DNS rebinding that the MCP specification requires of
// servers on localhost (docs/api.md, "Host check").
//
// A rebinding attack makes a name the attacker controls (evil.example.com)
// resolve to 127.0.0.1 after a browser has loaded the attacker's page from
// it; the page's requests then reach a server on loopback as same-origin
// requests, with Host: evil.example.com. Answering only the names the server
// is really known by breaks the attack, whatever the server's credentials.
//
// The package parses Host values and applies a Policy; it must not know HTTP
// frameworks, routes or configuration variables.
package hostcheck
