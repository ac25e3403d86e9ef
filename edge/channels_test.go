package edge_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// The operator's default webhook of the stacks these tests start: trusted,
// so it may be the local receiver.
const defaultHookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// withDefaultWebhook points the operator's default webhook at a local
// receiver that verifies signatures with the Standard Webhooks library.
func withDefaultWebhook(t testing.TB) (*dispatchtest.WebhookReceiver, []programtest.Option) {
	recv := dispatchtest.NewWebhookReceiver(t, defaultHookSecret)
	return recv, []programtest.Option{
		programtest.Env("NOTIFY_WEBHOOK_URL", recv.URL),
		programtest.Env("NOTIFY_WEBHOOK_SECRET", defaultHookSecret),
		programtest.Env("NOTIFY_WEBHOOK_EVENTS", "session.completed"),
	}
}

// A browser's subscription, as PushManager.subscribe gives it. The endpoint
// is a public address literal, so no name needs resolving; nothing is ever
// pushed to it (no session of the principal is created while it exists).
func pushSubscriptionJSON(endpoint string) string {
	return fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}`, endpoint)
}

const pushEndpoint = "https://93.184.216.34/push/v1/dGhpcyBpcyBhbiBleGFtcGxl"

// channelCases are the requests of the notification settings API for the
// OpenAPI contract: every documented answer but the outage's, which
// channelDownCases produce. They run against serve with the default
// webhook of withDefaultWebhook.
func channelCases() []apiCase {
	const invalid = "INVALID_REQUEST"
	put := func(name, key, body string, want int, code string, req reqCheck) apiCase {
		return apiCase{name: "channels: " + name, method: "PUT", path: "/api/channels", key: key, ctype: ctJSON, body: body, want: want, code: code, req: req}
	}
	return []apiCase{
		{name: "channels: get", method: "GET", path: "/api/channels", key: keyA, want: 200, req: reqConforms},
		{name: "channels: get without credentials", method: "GET", path: "/api/channels", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		put("set telegram", keyA, `{"telegram":{"chatId":"123456789"},"disabled":["slack"]}`, 200, "", reqConforms),
		put("set a webhook", keyA, `{"webhooks":[{"url":"https://93.184.216.34/hooks","secret":"`+defaultHookSecret+`","events":["session.completed"]}],"ntfy":{"url":"https://93.184.216.34/my-topic","token":"tk_1"}}`, 200, "", reqConforms),
		put("clear", keyA, `{}`, 200, "", reqConforms),
		put("webhook on loopback", keyA, `{"webhooks":[{"url":"http://127.0.0.1:9/x","secret":"`+defaultHookSecret+`"}]}`, 400, invalid, reqUnchecked),
		put("webhook without secret", keyA, `{"webhooks":[{"url":"https://93.184.216.34/x"}]}`, 400, invalid, reqUnchecked),
		put("chat id not a number", keyA, `{"telegram":{"chatId":"@news"}}`, 400, invalid, reqBreaks),
		put("unknown field", keyA, `{"email":"a@example.com"}`, 400, invalid, reqBreaks),
		put("wrong type", keyA, `{"webhooks":{}}`, 400, invalid, reqBreaks),
		put("six webhooks", keyA, mustJSON(map[string]any{"webhooks": make([]map[string]string, 6)}), 400, invalid, reqBreaks),
		put("not JSON", keyA, `{"telegram":`, 400, invalid, reqUnchecked),
		{name: "channels: put as text", method: "PUT", path: "/api/channels", key: keyA, ctype: "text/plain", body: `{}`, want: 400, code: invalid},
		put("without credentials", "", `{}`, 401, "UNAUTHORIZED", reqBreaks),
		put("over 64 KiB", keyA, `{"disabled":["`+strings.Repeat("x", 70<<10)+`"]}`, 413, "PAYLOAD_TOO_LARGE", reqUnchecked),

		{name: "channels: test the default webhook", method: "POST", path: "/api/channels/test", key: keyA, ctype: ctJSON, body: `{"channel":"webhook"}`, want: 200, req: reqConforms},
		{name: "channels: test an unknown channel", method: "POST", path: "/api/channels/test", key: keyA, ctype: ctJSON, body: `{"channel":"sms"}`, want: 400, code: invalid, req: reqBreaks},
		{name: "channels: test a channel not offered", method: "POST", path: "/api/channels/test", key: keyA, ctype: ctJSON, body: `{"channel":"telegram"}`, want: 400, code: invalid, req: reqConforms},
		{name: "channels: test without credentials", method: "POST", path: "/api/channels/test", ctype: ctJSON, body: `{"channel":"webhook"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},

		{name: "push: vapid key", method: "GET", path: "/api/push/vapid-public-key", key: keyB, want: 200, req: reqConforms},
		{name: "push: vapid key without credentials", method: "GET", path: "/api/push/vapid-public-key", want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "push: subscribe", method: "POST", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 201, req: reqConforms},
		{name: "push: subscribe over http", method: "POST", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: pushSubscriptionJSON("http://93.184.216.34/push/x"), want: 400, code: invalid, req: reqConforms},
		{name: "push: subscribe without keys", method: "POST", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 400, code: invalid, req: reqBreaks},
		{name: "push: subscribe without credentials", method: "POST", path: "/api/push/subscriptions", ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "push: unsubscribe", method: "DELETE", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 200, req: reqConforms},
		{name: "push: unsubscribe again", method: "DELETE", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 200, req: reqConforms},
		{name: "push: unsubscribe without endpoint", method: "DELETE", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: `{}`, want: 400, code: invalid, req: reqBreaks},
		{name: "push: unsubscribe without credentials", method: "DELETE", path: "/api/push/subscriptions", ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
	}
}

// channelDownCases are the settings API's answers while NATS is gone.
func channelDownCases() []apiCase {
	return []apiCase{
		{name: "down: channels", method: "GET", path: "/api/channels", key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: put channels", method: "PUT", path: "/api/channels", key: keyA, ctype: ctJSON, body: `{}`, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: test", method: "POST", path: "/api/channels/test", key: keyA, ctype: ctJSON, body: `{"channel":"webhook"}`, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: subscribe", method: "POST", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: pushSubscriptionJSON(pushEndpoint), want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: unsubscribe", method: "DELETE", path: "/api/push/subscriptions", key: keyB, ctype: ctJSON, body: `{"endpoint":"` + pushEndpoint + `"}`, want: 503, code: "SERVICE_UNAVAILABLE"},
	}
}

// channelsStack runs serve (edge and dispatcher) on a NATS of its own, with
// the default webhook going to recv.
func channelsStack(t *testing.T, opts ...programtest.Option) (*restEdge, *dispatchtest.WebhookReceiver, *programtest.Server) {
	t.Helper()
	recv, hook := withDefaultWebhook(t)
	ns := programtest.StartNATS(t)
	e := startContractEdge(t, ns.URL, nil, append(hook, opts...)...)
	return e, recv, ns
}

type channelsBody struct {
	Webhooks []struct {
		ID        string
		URL       string
		HasSecret bool
		Events    []string
	}
	Telegram *struct{ ChatID string }
	Slack    *struct {
		HasWebhookURL bool `json:"hasWebhookUrl"`
		Host          string
	}
	Ntfy *struct {
		URL      string
		HasToken bool
	}
	WebPush   []struct{ ID, Host string }
	Disabled  []string
	Sources   map[string]string
	UpdatedAt *string
	Recent    map[string][]struct {
		ID, Event, Destination, State, Error string
		Attempts, StatusCode                 int
	}
	Available []string
}

func TestChannelSettingsNeverReturnSecretsAndKeepThemOnUpdate(t *testing.T) {
	t.Parallel()
	e, _, _ := channelsStack(t)
	const (
		hookSecret  = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LW9mLWFsaWNlLTAxMjM="
		slackURL    = "https://93.184.216.34/services/T0001/B0001/slack-secret-part"
		ntfyToken   = "tk_ntfy_secret_token"
		hookURL     = "https://93.184.216.34/hooks/alice"
		ntfyURL     = "https://93.184.216.34/alice-questions"
		pushKeyAuth = "tBHItJI5svbpez7KI4CCXg"
	)
	r := do(t, "GET", e.URL+"/api/channels", keyA, "", nil)
	var before channelsBody
	r.data(t, &before)
	if r.Status != 200 || before.Sources["webhook"] != "default" || before.Sources["telegram"] != "none" || before.UpdatedAt != nil ||
		strings.Contains(strings.Join(before.Available, ","), "telegram") {
		t.Fatalf("fresh settings: %d %s", r.Status, r.Raw)
	}
	body := mustJSON(map[string]any{
		"webhooks": []any{map[string]any{"url": hookURL, "secret": hookSecret, "events": []string{"session.completed"}, "includeAnswer": true}},
		"telegram": map[string]string{"chatId": "-1001234567890"},
		"slack":    map[string]string{"webhookUrl": slackURL},
		"ntfy":     map[string]string{"url": ntfyURL, "token": ntfyToken},
	})
	r = do(t, "PUT", e.URL+"/api/channels", keyA, ctJSON, []byte(body))
	if r.Status != 200 {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	if sub := do(t, "POST", e.URL+"/api/push/subscriptions", keyA, ctJSON, []byte(pushSubscriptionJSON(pushEndpoint))); sub.Status != 201 {
		t.Fatalf("subscribe: %d %s", sub.Status, sub.Raw)
	}
	got := do(t, "GET", e.URL+"/api/channels", keyA, "", nil)
	for _, raw := range [][]byte{r.Raw, got.Raw} {
		for _, secret := range []string{hookSecret, "services/T0001", ntfyToken, pushKeyAuth, "BNcRdreALRFX", "dGhpcyBpcyBhbiBleGFtcGxl"} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("a secret (%s) is returned: %s", secret, raw)
			}
		}
	}
	var v channelsBody
	got.data(t, &v)
	if len(v.Webhooks) != 1 || !v.Webhooks[0].HasSecret || v.Webhooks[0].URL != hookURL || v.Slack == nil || !v.Slack.HasWebhookURL ||
		v.Slack.Host != "93.184.216.34" || v.Ntfy == nil || !v.Ntfy.HasToken || v.Telegram.ChatID != "-1001234567890" ||
		len(v.WebPush) != 1 || v.WebPush[0].Host != "93.184.216.34" || v.Sources["webhook"] != "own" || v.UpdatedAt == nil {
		t.Fatalf("settings: %s", got.Raw)
	}

	// Sent back without its secrets, everything keeps them.
	keep := mustJSON(map[string]any{
		"webhooks": []any{map[string]any{"id": v.Webhooks[0].ID, "url": hookURL}},
		"slack":    map[string]any{},
		"ntfy":     map[string]string{"url": ntfyURL},
	})
	if r := do(t, "PUT", e.URL+"/api/channels", keyA, ctJSON, []byte(keep)); r.Status != 200 {
		t.Fatalf("PUT without secrets: %d %s", r.Status, r.Raw)
	}
	st, err := e.m.Backend().Channels().Settings(context.Background(), programtest.PrincipalA)
	if err != nil {
		t.Fatal(err)
	}
	if st.Webhooks[0].Secret != hookSecret || st.Slack.WebhookURL != slackURL || st.Ntfy.Token != ntfyToken || st.Telegram != nil ||
		len(st.WebPush) != 1 {
		t.Fatalf("stored after an update without secrets: %+v", st)
	}

	// Principal B sees none of it and changes none of it.
	var vb channelsBody
	do(t, "GET", e.URL+"/api/channels", keyB, "", nil).data(t, &vb)
	if len(vb.Webhooks) != 0 || vb.Slack != nil || len(vb.WebPush) != 0 || vb.Sources["webhook"] != "default" {
		t.Fatalf("B sees: %+v", vb)
	}
	if r := do(t, "PUT", e.URL+"/api/channels", keyB, ctJSON, []byte(`{"telegram":{"chatId":"42"}}`)); r.Status != 200 {
		t.Fatalf("B's PUT: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "DELETE", e.URL+"/api/push/subscriptions", keyB, ctJSON, []byte(`{"endpoint":"`+pushEndpoint+`"}`)); !strings.Contains(string(r.Raw), `"removed":false`) {
		t.Fatalf("B removed A's subscription: %s", r.Raw)
	}
	if st, _ := e.m.Backend().Channels().Settings(context.Background(), programtest.PrincipalA); st.Telegram != nil || len(st.WebPush) != 1 {
		t.Fatalf("B's changes reached A: %+v", st)
	}
}

func TestChannelSettingsRefuseBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	e, _, _ := channelsStack(t)
	secret := `"secret":"` + defaultHookSecret + `"`
	for _, tc := range []struct {
		name, body, field string
	}{
		{"webhook to loopback", `{"webhooks":[{"url":"http://127.0.0.1:8080/x",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook to a private network", `{"webhooks":[{"url":"http://10.0.0.8/x",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook to cloud metadata", `{"webhooks":[{"url":"http://169.254.169.254/latest/meta-data",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook to IPv6 loopback", `{"webhooks":[{"url":"http://[::1]:8080/x",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook to a name for loopback", `{"webhooks":[{"url":"http://localhost:8080/x",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook with credentials", `{"webhooks":[{"url":"https://u:p@93.184.216.34/x",` + secret + `}]}`, "webhooks[0].url"},
		{"webhook not http", `{"webhooks":[{"url":"ftp://93.184.216.34/x",` + secret + `}]}`, "webhooks[0].url"},
		{"second webhook's secret", `{"webhooks":[{"url":"https://93.184.216.34/a",` + secret + `},{"url":"https://93.184.216.34/b","secret":"whsec_short"}]}`, "webhooks[1].secret"},
		{"webhook event", `{"webhooks":[{"url":"https://93.184.216.34/a",` + secret + `,"events":["session.created","session.done"]}]}`, "webhooks[0].events[1]"},
		{"someone else's webhook id", `{"webhooks":[{"id":"wh_0123456789abcdef","url":"https://93.184.216.34/a"}]}`, "webhooks[0].id"},
		{"slack to a private network", `{"slack":{"webhookUrl":"http://192.168.1.10/services/x"}}`, "slack.webhookUrl"},
		{"slack without a URL", `{"slack":{}}`, "slack.webhookUrl"},
		{"ntfy to loopback", `{"ntfy":{"url":"http://127.0.0.1/topic"}}`, "ntfy.url"},
		{"ntfy without a topic", `{"ntfy":{"url":"https://93.184.216.34/"}}`, "ntfy.url"},
		{"ntfy token with spaces", `{"ntfy":{"url":"https://93.184.216.34/t","token":"a b"}}`, "ntfy.token"},
		{"telegram chat", `{"telegram":{"chatId":"12ab"}}`, "telegram.chatId"},
		{"disabled channel", `{"disabled":["email"]}`, "disabled[0]"},
		{"unknown field", `{"webhooks":[],"pager":{}}`, "pager"},
		{"wrong type", `{"telegram":{"chatId":42}}`, "telegram.chatId"},
		{"an array", `[]`, "body"},
		{"two objects", `{} {}`, "body"},
		{"invalid UTF-8", "{\"telegram\":{\"chatId\":\"\xff\"}}", "telegram.chatId"},
	} {
		r := do(t, "PUT", e.URL+"/api/channels", keyA, ctJSON, []byte(tc.body))
		if r.Status != 400 || r.code() != "INVALID_REQUEST" || r.Body.Error.Details == nil || r.Body.Error.Details.Field != tc.field {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Raw, tc.field)
		}
	}
	for _, tc := range []struct{ name, body, field string }{
		{"endpoint on loopback", pushSubscriptionJSON("https://127.0.0.1/push/x"), "endpoint"},
		{"endpoint on a private network", pushSubscriptionJSON("https://10.1.2.3/push/x"), "endpoint"},
		{"key not on the curve", strings.Replace(pushSubscriptionJSON(pushEndpoint), "BNcRdreALRFX", "BAAAAAAAAAAA", 1), "keys.p256dh"},
		{"auth too short", strings.Replace(pushSubscriptionJSON(pushEndpoint), "tBHItJI5svbpez7KI4CCXg", "tBHI", 1), "keys.auth"},
		{"unknown field", `{"endpoint":"` + pushEndpoint + `","extra":1}`, "extra"},
	} {
		r := do(t, "POST", e.URL+"/api/push/subscriptions", keyA, ctJSON, []byte(tc.body))
		if r.Status != 400 || r.Body.Error == nil || r.Body.Error.Details == nil || r.Body.Error.Details.Field != tc.field {
			t.Errorf("subscribe, %s: %d %s, want 400 naming %s", tc.name, r.Status, r.Raw, tc.field)
		}
	}
	// Nothing was stored by any of them.
	if st, _ := e.m.Backend().Channels().Settings(context.Background(), programtest.PrincipalA); st.Revision != 0 {
		t.Fatalf("refused input was stored: %+v", st)
	}
}

func TestChannelTestNotificationGoesThroughADispatcher(t *testing.T) {
	t.Parallel()
	e, recv, _ := channelsStack(t)
	r := do(t, "POST", e.URL+"/api/channels/test", keyA, ctJSON, []byte(`{"channel":"webhook"}`))
	var data struct {
		Channel  string
		Outcomes []struct {
			Event, Destination, State string
			Default                   bool
			StatusCode                int
		}
	}
	r.data(t, &data)
	if r.Status != 200 || len(data.Outcomes) != 1 || data.Outcomes[0].State != "delivered" || !data.Outcomes[0].Default ||
		data.Outcomes[0].Event != "test" || data.Outcomes[0].StatusCode != 204 {
		t.Fatalf("test: %d %s", r.Status, r.Raw)
	}
	got := recv.Accepted()
	if len(got) != 1 || got[0].Type != "test" || got[0].VerifyErr != nil {
		t.Fatalf("receiver got %+v", got)
	}
	// The outcome is among the recent deliveries.
	var v channelsBody
	do(t, "GET", e.URL+"/api/channels", keyA, "", nil).data(t, &v)
	if outs := v.Recent["webhook"]; len(outs) != 1 || outs[0].Event != "test" || outs[0].State != "delivered" {
		t.Fatalf("recent: %+v", v.Recent)
	}
	// With no webhook of its own turned on, A turns the default off: then
	// there is nothing to test.
	do(t, "PUT", e.URL+"/api/channels", keyA, ctJSON, []byte(`{"disabled":["webhook"]}`))
	if r := do(t, "POST", e.URL+"/api/channels/test", keyA, ctJSON, []byte(`{"channel":"webhook"}`)); r.Status != 400 ||
		r.Body.Error.Details.Field != "channel" {
		t.Fatalf("test of a channel turned off: %d %s", r.Status, r.Raw)
	}

	// An edge whose NATS no dispatcher follows says so.
	alone := runEdge(t, programtest.StartNATS(t).URL)
	if r := do(t, "POST", alone.URL+"/api/channels/test", keyB, ctJSON, []byte(`{"channel":"webhook"}`)); r.Status != 503 ||
		!strings.Contains(r.Body.Error.Message, "no dispatcher") {
		t.Fatalf("test without a dispatcher: %d %s", r.Status, r.Raw)
	}
}

func TestVAPIDPublicKeyIsTheClustersAndStable(t *testing.T) {
	t.Parallel()
	e, _, ns := channelsStack(t)
	key := func(url string) string {
		var d struct{ PublicKey string }
		do(t, "GET", url+"/api/push/vapid-public-key", keyA, "", nil).data(t, &d)
		return d.PublicKey
	}
	k := key(e.URL)
	raw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("public key %q is not an uncompressed P-256 point", k)
	}
	// Another replica on the same NATS hands out the same key.
	if other := key(runEdge(t, ns.URL).URL); other != k {
		t.Fatalf("replicas disagree on the VAPID key: %s vs %s", other, k)
	}
}

// The bodies the API accepts are decoded strictly and the answers are the
// documented ones; a body that is not JSON at all is refused by type.
func TestChannelSettingsHostileBodies(t *testing.T) {
	t.Parallel()
	e, _, _ := channelsStack(t)
	deadline := time.Now().Add(10 * time.Second)
	for _, body := range []string{"", "null", "0", `"x"`, `{"webhooks":null,"telegram":null}`, `{"webhooks":[null]}`,
		`{"webhooks":[{"url":"` + strings.Repeat("a", 60000) + `"}]}`, `{"disabled":[` + strings.Repeat(`"webhook",`, 5000) + `"webhook"]}`} {
		r := do(t, "PUT", e.URL+"/api/channels", keyA, ctJSON, []byte(body))
		if r.Status != 400 && r.Status != 200 {
			t.Errorf("PUT %.40q: %d %s", body, r.Status, r.Raw)
		}
		if time.Now().After(deadline) {
			t.Fatal("hostile bodies take too long")
		}
	}
	var v channelsBody
	do(t, "GET", e.URL+"/api/channels", keyA, "", nil).data(t, &v)
	if len(v.Disabled) > len(channels.Kinds) {
		t.Fatalf("disabled list not deduplicated: %v", v.Disabled)
	}
}
