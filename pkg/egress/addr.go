package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrRefused is matched (errors.Is) by every refusal of a destination
// address.
var ErrRefused = errors.New("destination address refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	// Host is the name or literal the caller asked for; empty at connect
	// time, where only the address is known.
	Host string
	// Addr is the refused address.
	Addr netip.Addr
	// Reason names the kind of address, e.g. "loopback".
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("%s resolves to %s, a %s address; only public addresses are allowed", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("%s is a %s address; only public addresses are allowed", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// special lists the ranges that netip's predicates do not already cover and
// that no public service lives on.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	teredo  = netip.MustParsePrefix("2001::/32")
	v4Local = netip.MustParsePrefix("64:ff9b:1::/48")
)

// CheckAddr returns a *RefusedError if a is not a public unicast address.
// IPv4 addresses written in IPv6 form (IPv4-mapped, NAT64, 6to4) are judged
// by the IPv4 address they carry.
func CheckAddr(a netip.Addr) error {
	if reason := classify(a); reason != "" {
		return &RefusedError{Addr: a, Reason: reason}
	}
	return nil
}

func classify(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid"
	}
	a = a.WithZone("")
	if a.Is4In6() {
		if r := classify(a.Unmap()); r != "" {
			return "IPv4-mapped " + r
		}
		return ""
	}
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			if r := classify(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
				return "NAT64 " + r
			}
		case v4Local.Contains(a):
			return "local-use NAT64"
		case sixTo4.Contains(a):
			if r := classify(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
				return "6to4 " + r
			}
		case teredo.Contains(a):
			// Teredo hides the server and client IPv4 addresses (the
			// client's obfuscated); such tunnels are not where receivers
			// live.
			return "Teredo"
		}
	}
	return ""
}
