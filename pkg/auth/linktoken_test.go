package auth_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func newLinkTokens(t testing.TB, secret string) *auth.LinkTokens {
	t.Helper()
	l, err := auth.NewLinkTokens([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLinkTokenNamesItsReferenceUntilItExpires(t *testing.T) {
	l := newLinkTokens(t, testSecret)
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	tok := l.Mint(auth.PurposeInboxLink, "lnk_abc", exp)
	if !strings.HasPrefix(tok, auth.PurposeInboxLink) || strings.ContainsAny(tok, "+/= #&") {
		t.Fatalf("token %q lacks its prefix or is not safe in a URL fragment", tok)
	}
	ref, got, err := l.Verify(auth.PurposeInboxLink, tok)
	if err != nil || ref != "lnk_abc" || !got.Equal(exp) {
		t.Fatalf("Verify = %q, %v, %v; want lnk_abc expiring %v", ref, got, err, exp)
	}
	later := l.WithClock(func() time.Time { return exp })
	if _, _, err := later.Verify(auth.PurposeInboxLink, tok); !errors.Is(err, auth.ErrUnauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("at its expiry: %v, want expired", err)
	}
}

func TestLinkTokenRefusals(t *testing.T) {
	l := newLinkTokens(t, testSecret)
	other := newLinkTokens(t, testSecret+"-other")
	exp := time.Now().Add(time.Hour)
	good := l.Mint(auth.PurposeInboxCookie, "lnk_abc", exp)
	body := strings.TrimPrefix(good, auth.PurposeInboxCookie)
	payload, mac, _ := strings.Cut(body, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	swapped := append([]byte(nil), raw...)
	copy(swapped[8:], "lnk_abd")
	longer := append([]byte(nil), raw...)
	longer[0] ^= 0x01 // a later expiry
	enc := base64.RawURLEncoding.EncodeToString

	for name, tok := range map[string]string{
		"another purpose's token":       l.Mint(auth.PurposeInboxLink, "lnk_abc", exp),
		"the socket token of the link":  l.Mint(auth.PurposeInboxSocket, "lnk_abc", exp),
		"another secret":                other.Mint(auth.PurposeInboxCookie, "lnk_abc", exp),
		"another reference, same MAC":   auth.PurposeInboxCookie + enc(swapped) + "." + mac,
		"a later expiry, same MAC":      auth.PurposeInboxCookie + enc(longer) + "." + mac,
		"no prefix":                     body,
		"no MAC":                        auth.PurposeInboxCookie + payload,
		"empty MAC":                     auth.PurposeInboxCookie + payload + ".",
		"short MAC":                     auth.PurposeInboxCookie + payload + "." + mac[:20],
		"MAC not base64":                auth.PurposeInboxCookie + payload + ".!!",
		"payload not base64":            auth.PurposeInboxCookie + "$$." + mac,
		"no reference":                  auth.PurposeInboxCookie + enc(raw[:8]) + "." + mac,
		"expired":                       l.Mint(auth.PurposeInboxCookie, "lnk_abc", time.Now().Add(-time.Second)),
		"too long":                      good + strings.Repeat("A", auth.MaxLinkTokenLen),
		"empty":                         "",
		"the prefix alone":              auth.PurposeInboxCookie,
		"padded base64":                 auth.PurposeInboxCookie + payload + "=." + mac,
		"a second MAC":                  good + "." + mac,
		"invalid UTF-8 reference, MACd": l.Mint(auth.PurposeInboxCookie, "\xff\xfe", exp),
	} {
		if ref, _, err := l.Verify(auth.PurposeInboxCookie, tok); err == nil || !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%s: Verify = %q, %v; want a refusal wrapping ErrUnauthorized", name, ref, err)
		}
	}
	if _, _, err := l.Verify(auth.PurposeInboxCookie, good); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
	if _, err := auth.NewLinkTokens([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func FuzzLinkTokenVerify(f *testing.F) {
	l := newLinkTokens(f, testSecret)
	exp := time.Now().Add(time.Hour)
	for _, s := range []string{
		l.Mint(auth.PurposeInboxLink, "lnk_abcdefghijklmnopqrstuvwxyz", exp),
		l.Mint(auth.PurposeInboxCookie, "lnk_x", exp),
		"fbl_", "fbl_.", "fbl_AAAAAAAAAAAA.AAAA", "fbl_" + strings.Repeat("A", 600), "", ".", "fbl_a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		ref, got, err := l.Verify(auth.PurposeInboxLink, token)
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
			if ref != "" || !got.IsZero() {
				t.Fatalf("returned %q, %v with an error", ref, got)
			}
			return
		}
		// Anything accepted must be exactly what Mint makes of its reference.
		if again := l.Mint(auth.PurposeInboxLink, ref, got); again != token {
			t.Fatalf("accepted %q, which Mint spells %q", token, again)
		}
	})
}
