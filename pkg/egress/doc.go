// Package egress is an HTTP client for requests to addresses that users
// typed: webhook receivers, chat webhooks, push services. It refuses to
// connect to loopback, private (RFC 1918, RFC 4193), link-local (including
// the cloud metadata address 169.254.169.254), unspecified, multicast,
// carrier-grade NAT, documentation and reserved addresses, and to the IPv6
// forms that embed them (IPv4-mapped, NAT64, 6to4), so that a URL cannot turn
// the server into a probe of its own network (SSRF).
//
// The check runs at connect time, on the address actually dialled after name
// resolution, so a name that resolves to a public address when it is checked
// and to a private one when it is used (DNS rebinding) is still refused.
// CheckURL runs the same check ahead of time, so settings can be refused with
// a clear message when they are saved. Redirects are followed only when they
// keep the method and body (307, 308), and every hop is checked again.
// Responses are cut at a size cap, every phase has a timeout, and proxies from
// the environment are ignored (a proxy would dial on our behalf, unchecked).
//
// Options.AllowPrivate turns the address check off, for deployments whose
// receivers live on a private network and for tests against local fakes.
//
// The package knows nothing of what it sends.
package egress
