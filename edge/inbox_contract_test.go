package edge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// The inbox's routes for the OpenAPI contract test: every documented
// response produced by a real request (TestOpenAPIDocumentDescribesEveryResponse).

// inboxContract is what the inbox's cases need: a cookie of principal A and
// the sessions they read.
type inboxContract struct {
	e                                       *restEdge
	cookie                                  string
	pending, answered, expired, theirs      string
	withImage, imageID, etag, pngBase64     string
	overLarge                               string
	revokeByOwner, revokeByInbox, tokenOnce string
}

func newInboxContract(t *testing.T, e *restEdge, pending, answered, expired, withImage, imageID, png, overLarge string) *inboxContract {
	t.Helper()
	k := &inboxContract{e: e, pending: pending, answered: answered, expired: expired, withImage: withImage, imageID: imageID,
		pngBase64: png, overLarge: overLarge}
	k.cookie, _ = signIn(t, e, mintLink(t, e, keyA, `{"name":"contract"}`).Token)
	k.theirs = e.create(t, keyB, map[string]any{"message": "B's"})
	k.revokeByOwner = mintLink(t, e, keyA, `{}`).ID
	k.revokeByInbox = mintLink(t, e, keyA, `{}`).ID
	k.tokenOnce = mintLink(t, e, keyA, `{}`).Token
	r := inboxReq(t, e, "GET", "/inbox/api/sessions/"+withImage+"/images/"+imageID, k.cookie, "-", "")
	if r.Status != 200 {
		t.Fatalf("the inbox's image: %d %s", r.Status, r.Raw)
	}
	k.etag = r.Header.Get("ETag")
	// B holds as many links as allowed, for TOO_MANY_LINKS.
	for range inbox.MaxLinks {
		mintLink(t, e, keyB, `{}`)
	}
	return k
}

// with returns headers for an inbox request: the cookie, and the inbox's
// own Origin unless origin says otherwise ("-": none).
func (k *inboxContract) with(origin string, more ...string) map[string]string {
	h := map[string]string{"Cookie": k.cookie}
	switch origin {
	case "":
		h["Origin"] = k.e.URL
	case "-":
	default:
		h["Origin"] = origin
	}
	for i := 0; i+1 < len(more); i += 2 {
		h[more[i]] = more[i+1]
	}
	return h
}

func (k *inboxContract) cases(t *testing.T) []apiCase {
	const invalid = "INVALID_REQUEST"
	const evil = "https://evil.example"
	fresh := k.e.create(t, keyA, map[string]any{"message": "answer in the inbox", "predefinedOptions": []string{"a", "b"}})
	sess := func(id, rest string) string { return "/inbox/api/sessions/" + id + rest }
	links := "/api/inbox/links"
	return []apiCase{
		// The owner's API.
		{name: "links: mint", method: "POST", path: links, key: keyA, ctype: ctJSON, body: `{"name":"phone","ttl":86400}`, want: 201, req: reqConforms},
		{name: "links: mint without a body", method: "POST", path: links, key: keyA, want: 201, req: reqConforms},
		{name: "links: ttl too short", method: "POST", path: links, key: keyA, ctype: ctJSON, body: `{"ttl":60}`, want: 400, code: invalid, req: reqBreaks},
		{name: "links: name too long", method: "POST", path: links, key: keyA, ctype: ctJSON, body: mustJSON(map[string]string{"name": strings.Repeat("n", 101)}), want: 400, code: invalid, req: reqBreaks},
		{name: "links: ttl over the maximum", method: "POST", path: links, key: keyA, ctype: ctJSON, body: `{"ttl":999999999}`, want: 400, code: invalid, req: reqUnchecked},
		{name: "links: mint without credentials", method: "POST", path: links, ctype: ctJSON, body: `{}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "links: one too many", method: "POST", path: links, key: keyB, ctype: ctJSON, body: `{}`, want: 409, code: "TOO_MANY_LINKS", req: reqConforms},
		{name: "links: list", method: "GET", path: links, key: keyA, want: 200, req: reqConforms},
		{name: "links: list without credentials", method: "GET", path: links, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "links: revoke", method: "DELETE", path: links + "/" + k.revokeByOwner, key: keyA, want: 200, req: reqConforms},
		{name: "links: revoke again", method: "DELETE", path: links + "/" + k.revokeByOwner, key: keyA, want: 404, code: "LINK_NOT_FOUND", req: reqConforms},
		{name: "links: revoke without credentials", method: "DELETE", path: links + "/" + k.revokeByOwner, want: 401, code: "UNAUTHORIZED", req: reqBreaks},

		// The page and signing in.
		{name: "inbox", method: "GET", path: "/inbox", want: 200, req: reqConforms},
		{name: "inbox: Chinese, dark", method: "GET", path: "/inbox?lang=zh&theme=dark", want: 200, req: reqConforms},
		{name: "inbox: manifest", method: "GET", path: "/inbox/manifest.webmanifest?lang=zh", want: 200, req: reqConforms},
		{name: "inbox: service worker", method: "GET", path: "/inbox/sw.js", want: 200, req: reqConforms},
		{name: "sign in", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: mustJSON(map[string]string{"token": k.tokenOnce}), want: 200, req: reqConforms},
		{name: "sign in: no token", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{}`, want: 400, code: invalid, req: reqBreaks},
		{name: "sign in: forged token", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{"token":"fbl_AAAA.AAAA"}`, want: 401, code: "UNAUTHORIZED", req: reqConforms},
		{name: "sign in: from another site", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": evil}, ctype: ctJSON, body: mustJSON(map[string]string{"token": k.tokenOnce}), want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "sign out", method: "DELETE", path: "/inbox/session", header: map[string]string{"Origin": k.e.URL}, want: 200, req: reqConforms},
		{name: "sign out: from another site", method: "DELETE", path: "/inbox/session", header: map[string]string{"Origin": evil}, want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},

		// The inbox's own routes.
		{name: "inbox me", method: "GET", path: "/inbox/api/me", header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox me: no cookie", method: "GET", path: "/inbox/api/me", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox me: an API key", method: "GET", path: "/inbox/api/me", key: keyA, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox sessions", method: "GET", path: "/inbox/api/sessions?limit=2", header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox sessions: limit 0", method: "GET", path: "/inbox/api/sessions?limit=0", header: k.with("-"), want: 400, code: invalid, req: reqBreaks},
		{name: "inbox sessions: no cookie", method: "GET", path: "/inbox/api/sessions", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox session", method: "GET", path: sess(k.pending, "?lang=zh"), header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox session: answered", method: "GET", path: sess(k.answered, ""), header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox session: not a UUID", method: "GET", path: sess("nope", ""), header: k.with("-"), want: 400, code: invalid, req: reqBreaks},
		{name: "inbox session: another principal's", method: "GET", path: sess(k.theirs, ""), header: k.with("-"), want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "inbox session: no cookie", method: "GET", path: sess(k.pending, ""), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox answer", method: "POST", path: sess(fresh, "/submit"), header: k.with(""), ctype: ctJSON, body: `{"selectedOptions":["a"]}`, want: 200, req: reqConforms},
		{name: "inbox answer: nothing", method: "POST", path: sess(k.pending, "/submit"), header: k.with(""), ctype: ctJSON, body: `{}`, want: 400, code: invalid, req: reqBreaks},
		{name: "inbox answer: from another site", method: "POST", path: sess(k.pending, "/submit"), header: k.with(evil), ctype: ctJSON, body: `{"freeText":"x"}`, want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox answer: another principal's", method: "POST", path: sess(k.theirs, "/submit"), header: k.with(""), ctype: ctJSON, body: `{"freeText":"x"}`, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "inbox answer: answered already", method: "POST", path: sess(k.answered, "/submit"), header: k.with(""), ctype: ctJSON, body: `{"freeText":"x"}`, want: 409, code: "ALREADY_SUBMITTED", req: reqConforms},
		{name: "inbox answer: expired", method: "POST", path: sess(k.expired, "/submit"), header: k.with(""), ctype: ctJSON, body: `{"freeText":"x"}`, want: 410, code: "SESSION_EXPIRED", req: reqConforms},
		{name: "inbox answer: over the limit", method: "POST", path: sess(k.pending, "/submit"), header: k.with(""), ctype: ctJSON, body: k.overLarge, want: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "inbox answer: no cookie", method: "POST", path: sess(k.pending, "/submit"), header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{"freeText":"x"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox image", method: "GET", path: sess(k.withImage, "/images/"+k.imageID), header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox image: not modified", method: "GET", path: sess(k.withImage, "/images/"+k.imageID), header: k.with("-", "If-None-Match", k.etag), want: 304, req: reqConforms},
		{name: "inbox image: not a UUID", method: "GET", path: sess(k.withImage, "/images/nope"), header: k.with("-"), want: 400, code: invalid},
		{name: "inbox image: not the session's", method: "GET", path: sess(k.pending, "/images/"+k.imageID), header: k.with("-"), want: 404, code: "IMAGE_NOT_FOUND", req: reqConforms},
		{name: "inbox image: no cookie", method: "GET", path: sess(k.withImage, "/images/"+k.imageID), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox socket", method: "POST", path: "/inbox/api/socket", header: k.with(""), want: 200, req: reqConforms},
		{name: "inbox socket: from another site", method: "POST", path: "/inbox/api/socket", header: k.with(evil), want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox socket: no cookie", method: "POST", path: "/inbox/api/socket", header: map[string]string{"Origin": k.e.URL}, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox links", method: "GET", path: "/inbox/api/links", header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox links: no cookie", method: "GET", path: "/inbox/api/links", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox revoke", method: "DELETE", path: "/inbox/api/links/" + k.revokeByInbox, header: k.with(""), want: 200, req: reqConforms},
		{name: "inbox revoke: again", method: "DELETE", path: "/inbox/api/links/" + k.revokeByInbox, header: k.with(""), want: 404, code: "LINK_NOT_FOUND", req: reqConforms},
		{name: "inbox revoke: from another site", method: "DELETE", path: "/inbox/api/links/" + k.revokeByInbox, header: k.with(evil), want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox revoke: no cookie", method: "DELETE", path: "/inbox/api/links/" + k.revokeByInbox, header: map[string]string{"Origin": k.e.URL}, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox channels", method: "GET", path: "/inbox/api/channels", header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox channels: no cookie", method: "GET", path: "/inbox/api/channels", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox channels: put", method: "PUT", path: "/inbox/api/channels", header: k.with(""), ctype: ctJSON, body: `{"telegram":{"chatId":"123456789"}}`, want: 200, req: reqConforms},
		{name: "inbox channels: put an unknown field", method: "PUT", path: "/inbox/api/channels", header: k.with(""), ctype: ctJSON, body: `{"email":"a@example.com"}`, want: 400, code: invalid, req: reqBreaks},
		{name: "inbox channels: put from another site", method: "PUT", path: "/inbox/api/channels", header: k.with(evil), ctype: ctJSON, body: `{}`, want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox channels: put over 64 KiB", method: "PUT", path: "/inbox/api/channels", header: k.with(""), ctype: ctJSON, body: `{"disabled":["` + strings.Repeat("x", 70<<10) + `"]}`, want: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "inbox channels: put without a cookie", method: "PUT", path: "/inbox/api/channels", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox channels: test", method: "POST", path: "/inbox/api/channels/test", header: k.with(""), ctype: ctJSON, body: `{"channel":"webhook"}`, want: 200, req: reqConforms},
		{name: "inbox channels: test an unknown channel", method: "POST", path: "/inbox/api/channels/test", header: k.with(""), ctype: ctJSON, body: `{"channel":"sms"}`, want: 400, code: invalid, req: reqBreaks},
		{name: "inbox channels: test from another site", method: "POST", path: "/inbox/api/channels/test", header: k.with(evil), ctype: ctJSON, body: `{"channel":"webhook"}`, want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox channels: test without a cookie", method: "POST", path: "/inbox/api/channels/test", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{"channel":"webhook"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox push: subscribe", method: "POST", path: "/inbox/api/push/subscriptions", header: k.with(""), ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 201, req: reqConforms},
		{name: "inbox push: subscribe without keys", method: "POST", path: "/inbox/api/push/subscriptions", header: k.with(""), ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 400, code: invalid, req: reqBreaks},
		{name: "inbox push: subscribe from another site", method: "POST", path: "/inbox/api/push/subscriptions", header: k.with(evil), ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox push: subscribe without a cookie", method: "POST", path: "/inbox/api/push/subscriptions", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox push: unsubscribe", method: "DELETE", path: "/inbox/api/push/subscriptions", header: k.with(""), ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 200, req: reqConforms},
		{name: "inbox push: unsubscribe without endpoint", method: "DELETE", path: "/inbox/api/push/subscriptions", header: k.with(""), ctype: ctJSON, body: `{}`, want: 400, code: invalid, req: reqBreaks},
		{name: "inbox push: unsubscribe from another site", method: "DELETE", path: "/inbox/api/push/subscriptions", header: k.with(evil), ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 403, code: "FORBIDDEN_ORIGIN", req: reqConforms},
		{name: "inbox push: unsubscribe without a cookie", method: "DELETE", path: "/inbox/api/push/subscriptions", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "inbox push: vapid key", method: "GET", path: "/inbox/api/push/vapid-public-key", header: k.with("-"), want: 200, req: reqConforms},
		{name: "inbox push: vapid key without a cookie", method: "GET", path: "/inbox/api/push/vapid-public-key", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
	}
}

// downCases are the inbox's answers while NATS is gone: every route that
// takes the cookie reads the link first.
func (k *inboxContract) downCases() []apiCase {
	down := func(method, path, origin, body string) apiCase {
		c := apiCase{name: "down: " + method + " " + path, method: method, path: path, header: k.with(origin), want: 503, code: "SERVICE_UNAVAILABLE"}
		if body != "" {
			c.ctype, c.body = ctJSON, body
		}
		return c
	}
	return []apiCase{
		{name: "down: mint a link", method: "POST", path: "/api/inbox/links", key: keyA, ctype: ctJSON, body: `{}`, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: list links", method: "GET", path: "/api/inbox/links", key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: revoke a link", method: "DELETE", path: "/api/inbox/links/lnk_" + strings.Repeat("a", 26), key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: sign in", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": k.e.URL}, ctype: ctJSON, body: mustJSON(map[string]string{"token": k.tokenOnce}), want: 503, code: "SERVICE_UNAVAILABLE"},
		down("GET", "/inbox/api/me", "-", ""),
		down("GET", "/inbox/api/sessions", "-", ""),
		down("GET", "/inbox/api/sessions/"+k.pending, "-", ""),
		down("POST", "/inbox/api/sessions/"+k.pending+"/submit", "", `{"freeText":"x"}`),
		down("GET", "/inbox/api/sessions/"+k.withImage+"/images/"+k.imageID, "-", ""),
		down("POST", "/inbox/api/socket", "", ""),
		down("GET", "/inbox/api/links", "-", ""),
		down("DELETE", "/inbox/api/links/lnk_"+strings.Repeat("a", 26), "", ""),
		down("GET", "/inbox/api/channels", "-", ""),
		down("PUT", "/inbox/api/channels", "", `{}`),
		down("POST", "/inbox/api/channels/test", "", `{"channel":"webhook"}`),
		down("POST", "/inbox/api/push/subscriptions", "", pushSubscriptionJSON(pushEndpoint)),
		down("DELETE", "/inbox/api/push/subscriptions", "", `{"endpoint":"`+pushEndpoint+`"}`),
		down("GET", "/inbox/api/push/vapid-public-key", "-", ""),
	}
}

// inboxLimitedCases run on an edge whose answer limit is spent: signing in
// and answering in the inbox count against it. The cookie is made with the
// cluster's own secret, since signing in is what is limited.
func inboxLimitedCases(t *testing.T, limited *restEdge, id string) []apiCase {
	t.Helper()
	l := mintLink(t, limited, keyA, `{}`)
	secret, err := natsutil.SharedSecret(context.Background(), limited.m.Backend().JetStream(), "inbox-link", 1)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewLinkTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	cookie := "feedbackd_inbox=" + tokens.Mint(auth.PurposeInboxCookie, l.ID, time.Now().Add(time.Hour))
	return []apiCase{
		{name: "limited: sign in", method: "POST", path: "/inbox/session", header: map[string]string{"Origin": limited.URL}, ctype: ctJSON, body: mustJSON(map[string]string{"token": l.Token}), want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: inbox answer", method: "POST", path: "/inbox/api/sessions/" + id + "/submit", header: map[string]string{"Origin": limited.URL, "Cookie": cookie}, ctype: ctJSON, body: `{"freeText":"x"}`, want: 429, code: "RATE_LIMITED", req: reqConforms},
	}
}
