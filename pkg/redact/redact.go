package redact

import "strings"

// IDPrefix is how many characters of an id a log keeps: 32 of its 122
// random bits, leaving 90 that no one can guess.
const IDPrefix = 8

// ID returns the first IDPrefix characters of id and an ellipsis, or id
// itself when it is no longer than that.
func ID(id string) string {
	if len(id) <= IDPrefix {
		return id
	}
	return id[:IDPrefix] + "…"
}

// IDs returns p (a path with its query, a URL, a NATS subject) with every
// UUID in it, in either case, shortened by ID: /feedback/3f2a1b4c-…
// becomes /feedback/3f2a1b4c…, and so do ?next=/feedback/3f2a1b4c-… and
// $KV.feedback_sessions.s.3f2a1b4c-….
func IDs(p string) string {
	if len(p) < 36 {
		return p
	}
	var b strings.Builder
	last := 0
	for i := 0; i+36 <= len(p); i++ {
		if !isUUID(p[i:i+36]) || (i > 0 && idChar(p[i-1])) || (i+36 < len(p) && idChar(p[i+36])) {
			continue
		}
		if last == 0 {
			b.Grow(len(p))
		}
		b.WriteString(p[last:i])
		b.WriteString(ID(p[i : i+36]))
		last = i + 36
		i += 35
	}
	if last == 0 {
		return p
	}
	b.WriteString(p[last:])
	return b.String()
}

// idChar reports whether c may be part of a UUID, so that a UUID-shaped
// window inside a longer run of such characters is not taken for one.
func idChar(c byte) bool {
	return c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUUID reports whether s is 36 characters of hex digits with dashes at
// the places of a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
