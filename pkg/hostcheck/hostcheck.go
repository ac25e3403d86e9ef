package hostcheck

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Policy is the set of Host values one listener answers. The zero Policy
// answers none; a nil *Policy answers every host.
type Policy struct {
	any      bool
	loopback bool
	names    map[string]bool
}

// New returns the policy of a listener. On a loopback listener it allows the
// loopback names (localhost, 127.0.0.0/8, [::1]) with any port, PUBLIC_URL's
// host and the allowed names. On any other listener it allows PUBLIC_URL's
// host and the allowed names; when there are none of either it allows every
// host, since such a server is reached by names (a container's address, a
// load balancer's, a LAN name) it cannot know, and Any reports it so that the
// caller can warn. An allowed entry "*" allows every host.
//
// allowed holds host names or IP addresses, with or without a port (which is
// ignored): "feedback.example.com", "10.0.0.5", "[::1]:8787". New refuses
// anything else, such as a URL or a path.
func New(loopbackListener bool, publicURL string, allowed []string) (*Policy, error) {
	p := &Policy{loopback: loopbackListener, names: map[string]bool{}}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if a == "*" {
			p.any = true
			continue
		}
		name, ok := hostname(a)
		if !ok {
			return nil, fmt.Errorf("%q is not a host name or address (write it as feedback.example.com, 10.0.0.5 or [::1], no scheme or path)", a)
		}
		p.names[name] = true
	}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Host == "" {
			return nil, errors.New("the public URL has no host")
		}
		name, ok := hostname(u.Host)
		if !ok {
			return nil, fmt.Errorf("the public URL's host %q is not a host name or address", u.Host)
		}
		p.names[name] = true
	}
	if !loopbackListener && len(p.names) == 0 {
		p.any = true
	}
	return p, nil
}

// Any reports whether every host is allowed.
func (p *Policy) Any() bool { return p == nil || p.any }

// Allows reports whether a request whose Host header is host (with or
// without a port) may be answered.
func (p *Policy) Allows(host string) bool {
	if p.Any() {
		return true
	}
	name, ok := hostname(host)
	if !ok {
		return false
	}
	if p.names[name] {
		return true
	}
	return p.loopback && IsLoopback(name)
}

// IsLoopback reports whether name (a hostname as hostname returns it) always
// means this machine: localhost, or a loopback address. Names that merely
// resolve to a loopback address today do not count: that is the attack.
func IsLoopback(name string) bool {
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// hostname returns the name of a Host value without its port, lowercased and
// without a final dot; IPv6 addresses lose their brackets. ok is false for
// anything that is not a host: empty, a URL, a path, user info, spaces.
func hostname(host string) (string, bool) {
	host = strings.ToLower(strings.TrimSpace(host))
	if host == "" || strings.ContainsAny(host, "/?#@ \t\\") {
		return "", false
	}
	name := host
	switch {
	case strings.HasPrefix(host, "["):
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		name, rest := host[1:end], host[end+1:]
		if rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return "", false
		}
		if net.ParseIP(name) == nil || !strings.Contains(name, ":") {
			return "", false // brackets hold an IPv6 address and nothing else
		}
		return name, true
	case strings.Count(host, ":") == 1:
		var port string
		name, port, _ = strings.Cut(host, ":")
		if !validPort(port) {
			return "", false
		}
	case strings.Contains(host, ":"):
		return "", false // an IPv6 address must be bracketed in Host
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", false
	}
	return name, true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
