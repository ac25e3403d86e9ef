package egress

import (
	"net/netip"
	"testing"
)

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hook", "http://[::1]:80/", "https://u:p@h/", "javascript:x",
		"https://h:0/", "http://%zz/", "https://[fe80::1%25eth0]/", "HTTPS://EXAMPLE.COM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || len(raw) > 2048 {
			t.Fatalf("accepted %q as %#v", raw, u)
		}
		// A literal address the parser accepted is judged like any other.
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			_ = CheckAddr(a)
		}
	})
}

func FuzzCheckAddr(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		err := CheckAddr(a)
		// An IPv4 address and its IPv4-mapped form get the same verdict.
		if a.Is4() && (err == nil) != (CheckAddr(netip.AddrFrom16(a.As16())) == nil) {
			t.Fatalf("%s and its mapped form disagree", a)
		}
		if a.IsLoopback() || a.IsPrivate() || a.Unmap().IsLoopback() || a.Unmap().IsPrivate() {
			if err == nil {
				t.Fatalf("%s allowed", a)
			}
		}
	})
}
