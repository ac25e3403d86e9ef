package hostcheck_test

import (
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/hostcheck"
)

func TestPolicies(t *testing.T) {
	must := func(p *hostcheck.Policy, err error) *hostcheck.Policy {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	loopback := must(hostcheck.New(true, "", nil))
	loopbackPublic := must(hostcheck.New(true, "https://Feedback.Example.com/base", []string{"lan-box", "10.0.0.5:8787"}))
	public := must(hostcheck.New(false, "https://feedback.example.com", nil))
	listed := must(hostcheck.New(false, "", []string{"a.example.com", "[fd00::1]"}))
	open := must(hostcheck.New(false, "", nil))
	star := must(hostcheck.New(true, "", []string{"*"}))

	cases := []struct {
		p     *hostcheck.Policy
		name  string
		host  string
		allow bool
	}{
		{loopback, "loopback", "localhost", true},
		{loopback, "loopback", "LOCALHOST:8787", true},
		{loopback, "loopback", "localhost.", true},
		{loopback, "loopback", "127.0.0.1:8787", true},
		{loopback, "loopback", "127.5.6.7", true},
		{loopback, "loopback", "[::1]:8787", true},
		{loopback, "loopback", "[::1]", true},
		{loopback, "loopback", "[::ffff:127.0.0.1]:80", true},
		{loopback, "loopback", "evil.example.com", false},
		{loopback, "loopback", "evil.example.com:8787", false},
		{loopback, "loopback", "localhost.evil.example.com", false},
		{loopback, "loopback", "127.0.0.1.nip.io", false},
		{loopback, "loopback", "10.0.0.5", false},
		{loopback, "loopback", "", false},
		{loopback, "loopback", "::1", false},
		{loopback, "loopback", "[::1", false},
		{loopback, "loopback", "[127.0.0.1]", false},
		{loopback, "loopback", "localhost:port", false},
		{loopback, "loopback", "localhost:99999999", false},
		{loopback, "loopback", "user@localhost", false},
		{loopback, "loopback", "localhost/path", false},
		{loopbackPublic, "loopback with PUBLIC_URL", "feedback.example.com", true},
		{loopbackPublic, "loopback with PUBLIC_URL", "feedback.example.com:443", true},
		{loopbackPublic, "loopback with PUBLIC_URL", "lan-box:8787", true},
		{loopbackPublic, "loopback with PUBLIC_URL", "10.0.0.5", true},
		{loopbackPublic, "loopback with PUBLIC_URL", "localhost", true},
		{loopbackPublic, "loopback with PUBLIC_URL", "other.example.com", false},
		{public, "public", "feedback.example.com", true},
		{public, "public", "localhost", false},
		{public, "public", "127.0.0.1", false},
		{public, "public", "evil.example.com", false},
		{listed, "listed", "a.example.com:80", true},
		{listed, "listed", "[fd00::1]:8787", true},
		{listed, "listed", "b.example.com", false},
		{open, "neither", "anything.example.com", true},
		{star, "*", "evil.example.com", true},
	}
	for _, c := range cases {
		if got := c.p.Allows(c.host); got != c.allow {
			t.Errorf("%s policy, Host %q: allowed %v, want %v", c.name, c.host, got, c.allow)
		}
	}
	if !open.Any() || !star.Any() || public.Any() || loopback.Any() {
		t.Error("Any() wrong")
	}
	var none *hostcheck.Policy
	if !none.Allows("x") {
		t.Error("a nil policy allows every host")
	}
}

func TestNewRefusesWhatIsNotAHost(t *testing.T) {
	for _, bad := range []string{"https://a.example.com", "a.example.com/path", "a b", "[::1", "fd00::1"} {
		if _, err := hostcheck.New(false, "", []string{bad}); err == nil {
			t.Errorf("allowed entry %q accepted", bad)
		}
	}
}

// Host values are attacker input: whatever they hold, Allows neither panics
// nor lets through a value that names something besides a host and port.
func FuzzAllows(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1:8787", "[::1]:80", "evil.example.com", "[", "a:b:c", "localhost.", "x@localhost"} {
		f.Add(s)
	}
	p, err := hostcheck.New(true, "https://feedback.example.com", []string{"10.0.0.5"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if p.Allows(host) && strings.ContainsAny(host, "/?#@ \\") {
			t.Fatalf("allowed %q", host)
		}
	})
}

// The check runs on every request.
func BenchmarkAllows(b *testing.B) {
	p, err := hostcheck.New(true, "https://feedback.example.com", []string{"10.0.0.5"})
	if err != nil {
		b.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1:8787", "feedback.example.com", "evil.example.com:8787"} {
		b.Run(host, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Allows(host)
			}
		})
	}
}
