package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestCheckAddrRefusesEveryNonPublicRange(t *testing.T) {
	refused := map[string]string{
		"127.0.0.1":                 "loopback",
		"127.255.0.9":               "loopback",
		"10.0.0.1":                  "private",
		"10.255.255.255":            "private",
		"172.16.5.4":                "private",
		"192.168.1.1":               "private",
		"169.254.169.254":           "link-local",
		"0.0.0.0":                   "unspecified",
		"0.1.2.3":                   "\"this network\"",
		"100.64.0.1":                "carrier-grade NAT",
		"100.127.255.254":           "carrier-grade NAT",
		"224.0.0.1":                 "multicast",
		"239.255.255.250":           "multicast",
		"255.255.255.255":           "broadcast",
		"240.0.0.1":                 "reserved",
		"192.0.2.10":                "documentation",
		"198.18.0.1":                "benchmarking",
		"::1":                       "loopback",
		"::":                        "unspecified",
		"fe80::1":                   "link-local",
		"fe80::1%eth0":              "link-local",
		"fc00::1":                   "private",
		"fd12:3456::1":              "private",
		"ff02::1":                   "multicast",
		"::ffff:127.0.0.1":          "IPv4-mapped loopback",
		"::ffff:10.1.2.3":           "IPv4-mapped private",
		"::ffff:169.254.169.254":    "IPv4-mapped link-local",
		"::127.0.0.1":               "IPv4-compatible",
		"64:ff9b::7f00:1":           "NAT64 loopback",
		"64:ff9b::a9fe:a9fe":        "NAT64 link-local",
		"2002:7f00:1::1":            "6to4 loopback",
		"2002:c0a8:101::1":          "6to4 private",
		"2001:db8::1":               "documentation",
		"2001:0:4136:e378:8000::1":  "Teredo",
		"fec0::1":                   "site-local",
		"64:ff9b:1::1":              "local-use NAT64",
		"100::1":                    "discard-only",
		"::ffff:0.0.0.0":            "IPv4-mapped unspecified",
		"::ffff:100.64.0.1":         "IPv4-mapped carrier-grade NAT",
		"::ffff:255.255.255.255":    "IPv4-mapped broadcast",
		"::ffff:224.0.0.1":          "IPv4-mapped multicast",
		"::ffff:192.168.0.1":        "IPv4-mapped private",
		"::ffff:172.31.255.255":     "IPv4-mapped private",
		"::ffff:7f00:1":             "IPv4-mapped loopback",
		"0:0:0:0:0:ffff:7f00:0001":  "IPv4-mapped loopback",
		"::ffff:169.254.0.1":        "IPv4-mapped link-local",
		"::ffff:198.51.100.1":       "IPv4-mapped documentation",
		"::ffff:203.0.113.5":        "IPv4-mapped documentation",
		"::ffff:192.0.0.8":          "IPv4-mapped IETF protocol assignment",
		"::ffff:240.0.0.0":          "IPv4-mapped reserved",
		"::ffff:198.19.255.255":     "IPv4-mapped benchmarking",
		"::ffff:0.0.0.1":            "IPv4-mapped \"this network\"",
		"64:ff9b::c0a8:0101":        "NAT64 private",
		"2002:0a00:0001::":          "6to4 private",
		"2002:a9fe:a9fe::":          "6to4 link-local",
		"::ffff:a9fe:a9fe":          "IPv4-mapped link-local",
		"fe80::ffff:7f00:1":         "link-local",
		"ff05::2":                   "multicast",
		"::2":                       "IPv4-compatible",
		"fdff:ffff:ffff:ffff::1":    "private",
		"febf:ffff::1":              "link-local",
		"0000:0000:0000:0000::0001": "loopback",
	}
	for s, reason := range refused {
		a := netip.MustParseAddr(s)
		err := CheckAddr(a)
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
			t.Errorf("%s: got %v, want a refusal", s, err)
			continue
		}
		if re.Reason != reason {
			t.Errorf("%s: reason %q, want %q", s, re.Reason, reason)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2a00:1450:4001:80b::200e"} {
		if err := CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

func TestCheckURLRefusesPrivateDestinationsWithAClearMessage(t *testing.T) {
	c := New(Options{})
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"},
		{"https://10.1.2.3/hook", "10.1.2.3 is a private address"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"},
		{"http://[::1]:9000/", "::1 is a loopback address"},
		{"http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://localhost:8080/", "localhost resolves to"},
	} {
		err := c.CheckURL(ctx, tc.url)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a refusal mentioning %q", tc.url, err, tc.want)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"ftp://example.com/", "scheme \"ftp\" is not allowed"},
		{"/relative", "absolute"},
		{"https://user:pw@example.com/", "user name or password"},
		{"https:///nohost", "host"},
		{"https://example.com:0/", "invalid port"},
		{"https://example.com:99999/", "invalid port"},
		{" https://example.com/", "absolute"},
		{"https://" + strings.Repeat("a", 2048) + ".com/", "2048"},
		{"javascript:alert(1)", "scheme"},
	} {
		err := c.CheckURL(ctx, tc.url)
		if err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.url, err, tc.want)
		}
	}
	dns := New(Options{Resolver: startDNS(t, "known.example.", []netip.Addr{netip.MustParseAddr("93.184.216.34")})})
	if err := dns.CheckURL(ctx, "https://missing.example/"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown name: got %v, want \"does not exist\"", err)
	}
	if err := dns.CheckURL(ctx, "https://known.example/"); err != nil {
		t.Errorf("a name with a public address refused: %v", err)
	}
	if err := c.CheckURL(ctx, "https://93.184.216.34/hook"); err != nil {
		t.Errorf("public literal refused: %v", err)
	}
	if err := New(Options{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1/"); err != nil {
		t.Errorf("AllowPrivate still refused loopback: %v", err)
	}
}

// receiver counts the requests that reach it.
func receiver(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestDoRefusesPrivateAddressesAtConnectTime(t *testing.T) {
	srv, hits := receiver(t, nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	c := New(Options{})
	for _, u := range []string{
		srv.URL,
		"http://localhost:" + port,
		"http://[::ffff:127.0.0.1]:" + port,
		"http://[::1]:" + port,
		"http://10.0.0.1:" + port,
		"http://169.254.169.254/latest/meta-data/",
	} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: request went through", u)
			continue
		}
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the local receiver was reached %d times", n)
	}
	// The same request with private addresses allowed gets through.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := New(Options{AllowPrivate: true}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("AllowPrivate did not reach the receiver")
	}
}

func TestDoRefusesARedirectToLoopback(t *testing.T) {
	target, targetHits := receiver(t, nil)
	first, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/internal", http.StatusTemporaryRedirect)
	})
	firstAddr := netip.MustParseAddrPort(strings.TrimPrefix(first.URL, "http://"))
	c := New(Options{allowAddr: func(ap netip.AddrPort) bool { return ap == firstAddr }})
	req, _ := http.NewRequest(http.MethodPost, first.URL, strings.NewReader(`{"a":1}`))
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("redirect to %s followed", target.URL)
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want a refusal", err)
	}
	if targetHits.Load() != 0 {
		t.Fatal("the redirect target was reached")
	}
}

func TestDoReturnsRedirectsThatWouldDropTheBody(t *testing.T) {
	target, targetHits := receiver(t, nil)
	first, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	resp, err := New(Options{AllowPrivate: true}).Do(mustPost(t, first.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
		t.Fatalf("status %d, target hits %d: a 302 must come back to the caller unfollowed", resp.StatusCode, targetHits.Load())
	}
}

func TestDoFollowsBodyKeepingRedirectsToAllowedHosts(t *testing.T) {
	var got string
	target, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + string(b)
	})
	first, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusPermanentRedirect)
	})
	resp, err := New(Options{AllowPrivate: true}).Do(mustPost(t, first.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || got != `POST {"a":1}` {
		t.Fatalf("status %d, target saw %q", resp.StatusCode, got)
	}
}

func TestDoStopsAnEndlessRedirectLoop(t *testing.T) {
	var srv *httptest.Server
	srv, hits := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL, http.StatusTemporaryRedirect)
	})
	_, err := New(Options{AllowPrivate: true, MaxRedirects: 2}).Do(mustPost(t, srv.URL))
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("got %v, want a redirect limit error", err)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("%d requests, want the first and 2 redirects", n)
	}
}

func TestResponseBodyIsCapped(t *testing.T) {
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	resp, err := New(Options{AllowPrivate: true, MaxResponseBody: 1024}).Do(mustPost(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, ErrBodyTooLarge) || len(b) != 1024 {
		t.Fatalf("read %d bytes, err %v; want 1024 bytes then ErrBodyTooLarge", len(b), err)
	}

	exact, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(strings.Repeat("y", 1024))) })
	resp, err = New(Options{AllowPrivate: true, MaxResponseBody: 1024}).Do(mustPost(t, exact.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 1024 {
		t.Fatalf("a body of exactly the cap: %d bytes, %v", len(b), err)
	}
}

func TestDoTimesOutASilentServer(t *testing.T) {
	release := make(chan struct{})
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	start := time.Now()
	_, err := New(Options{AllowPrivate: true, ResponseHeaderTimeout: 200 * time.Millisecond}).Do(mustPost(t, srv.URL))
	if err == nil {
		t.Fatal("a server that never answers did not time out")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("timed out after %s", took)
	}
}

func TestDoRefusesANameThatRebindsToLoopbackAfterTheCheck(t *testing.T) {
	srv, hits := receiver(t, nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	// The name is public when the settings are checked and loopback when
	// the request is sent.
	dns := startDNS(t, "rebind.example.", []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")})
	c := New(Options{Resolver: dns})
	if err := c.CheckURL(context.Background(), "http://rebind.example:"+port+"/hook"); err != nil {
		t.Fatalf("first lookup is public, yet CheckURL refused: %v", err)
	}
	_, err := c.Do(mustPost(t, "http://rebind.example:"+port+"/hook"))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want the rebound address refused at connect time", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the request reached loopback")
	}
}

func mustPost(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// startDNS serves name over UDP on 127.0.0.1, answering its A queries with
// answers in turn (the last one repeated) and AAAA queries with nothing; the
// returned resolver asks only it.
func startDNS(t *testing.T, name string, answers []netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			hdr, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA && strings.EqualFold(q.Name.String(), name) {
				mu.Lock()
				a := answers[min(asked, len(answers)-1)]
				asked++
				mu.Unlock()
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0},
					dnsmessage.AResource{A: a.As4()})
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}
