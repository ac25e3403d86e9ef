package clientcmd_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

// signIn trades an inbox link's token for the inbox's cookie, as the inbox
// page does, and returns the status.
func signIn(t *testing.T, m *program.Main, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, m.URL()+"/inbox/session", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", m.URL())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK && !strings.Contains(res.Header.Get("Set-Cookie"), "feedbackd_inbox=fbc_") {
		t.Fatalf("signed in without a cookie: %q", res.Header.Get("Set-Cookie"))
	}
	return res.StatusCode
}

// feedbackd inbox-link against the real server: it prints a link whose
// token signs a browser in, lists the caller's links only, revokes one (after
// which its token no longer signs in), and says why when refused.
func TestInboxLinkMintsListsAndRevokes(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	asB := func(args ...string) *proc {
		return startIn(t, t.TempDir(), []string{client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=" + programtest.KeyB}, nil, args...)
	}

	p := start(t, m, "inbox-link", "--name", "phone", "--ttl", "2d")
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	link := strings.TrimSuffix(p.stdout.String(), "\n")
	m1 := regexp.MustCompile(`^` + regexp.QuoteMeta(m.URL()) + `/inbox#t=(fbl_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$`).FindStringSubmatch(link)
	if m1 == nil {
		t.Fatalf("stdout %q: not an inbox link", p.stdout.String())
	}
	token := m1[1]
	m2 := regexp.MustCompile(`^inbox link (lnk_[a-z2-7]{26}) \("phone"\), valid until .+; revoke it with: feedbackd inbox-link --revoke (lnk_[a-z2-7]{26})\n$`).FindStringSubmatch(p.stderr.String())
	if m2 == nil || m2[1] != m2[2] {
		// Not a terminal: one line, no QR code.
		t.Fatalf("stderr %q", p.stderr.String())
	}
	id := m2[1]
	links, err := c.InboxLinks(t.Context())
	if err != nil || len(links) != 1 || links[0].ID != id || links[0].Name != "phone" || links[0].URL != "" {
		t.Fatalf("the links as the API lists them: %+v %v", links, err)
	}
	if left := time.Until(links[0].ExpiresAt); left < 47*time.Hour || left > 48*time.Hour {
		t.Errorf("a 2d link expires in %s", left)
	}
	if st := signIn(t, m, token); st != http.StatusOK {
		t.Fatalf("the printed link does not sign in: %d", st)
	}

	p = start(t, m, "inbox-link", "--list")
	if code := p.exit(t); code != 0 || !regexp.MustCompile(`(?m)^ID +NAME +EXPIRES +LAST USED\n`+id+` +phone +\d{4}-\d\d-\d\d \d\d:\d\d +\d{4}-\d\d-\d\d \d\d:\d\d\n$`).MatchString(p.stdout.String()) {
		t.Fatalf("--list: exit %d, stdout %q, stderr %q", code, p.stdout.String(), p.stderr.String())
	}
	// Another principal sees none of them and cannot revoke them.
	asB("inbox-link", "--list").expect(t, 0, "no inbox links\n", "")
	asB("inbox-link", "--revoke", id).expect(t, 1, "", "LINK_NOT_FOUND")
	if st := signIn(t, m, token); st != http.StatusOK {
		t.Fatalf("B's attempt revoked A's link: %d", st)
	}

	start(t, m, "inbox-link", "--revoke", id).expect(t, 0, "", "revoked "+id)
	if st := signIn(t, m, token); st != http.StatusUnauthorized {
		t.Fatalf("a revoked link signs in: %d", st)
	}
	start(t, m, "inbox-link", "--list").expect(t, 0, "no inbox links\n", "")
	start(t, m, "inbox-link", "--revoke", id).expect(t, 1, "", "LINK_NOT_FOUND")

	// Refusals say why.
	start(t, m, "inbox-link", "--ttl", "9999d").expect(t, 1, "", "INVALID_REQUEST")
	startIn(t, t.TempDir(), []string{client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=wrong-key-0123456789-0123456789"}, nil,
		"inbox-link").expect(t, 1, "", "UNAUTHORIZED, HTTP 401")
}
