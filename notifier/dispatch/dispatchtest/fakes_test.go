package dispatchtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
)

func post(t *testing.T, url, contentType, body string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFakesRefuseWhatTheRealServicesRefuse(t *testing.T) {
	s := dispatchtest.NewSlack(t)
	long := strings.Repeat("x", 151)
	for body, want := range map[string]int{
		`{"text":"hi"}`: 200,
		`{"text":"hi","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + long + `"}}]}`:                                        400,
		`{"text":"hi","blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]}`:                                                       400,
		`{"text":"hi","blocks":[{"type":"banner"}]}`:                                                                                           400,
		`{"text":"hi","blocks":[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Go"},"url":"relative"}]}]}`: 400,
		`{}`:        400,
		`not json`:  400,
		`{"txt":1}`: 400,
	} {
		if got := post(t, s.URL, "application/json", body); got != want {
			t.Errorf("slack %s: %d, want %d", body, got, want)
		}
	}
	if got := post(t, s.URL+"x", "application/json", `{"text":"hi"}`); got != 404 {
		t.Errorf("slack, wrong webhook path: %d", got)
	}
	if n := len(s.Posts()); n != 1 {
		t.Errorf("slack accepted %d posts", n)
	}

	n := dispatchtest.NewNtfy(t, "tk_x")
	auth := []string{"Authorization", "Bearer tk_x"}
	four := `{"topic":"t","message":"m","actions":[` + strings.Repeat(`{"action":"view","label":"a","url":"https://x.example"},`, 3) +
		`{"action":"view","label":"a","url":"https://x.example"}]}`
	for body, want := range map[string]int{
		`{"topic":"t","message":"m"}`:              200,
		`{"topic":"t/x","message":"m"}`:            400,
		`{"topic":"t","message":"m","priority":6}`: 400,
		four: 400,
		`{"topic":"t","message":"m","actions":[{"action":"http","label":"","url":"https://x.example"}]}`: 400,
		`{"topic":"t","message":"m","actions":[{"action":"view","label":"a","url":"ftp://x"}]}`:          400,
		`{"topic":"t","message":"m","unknown":1}`:                                                        400,
	} {
		if got := post(t, n.URL+"/", "application/json", body, auth...); got != want {
			t.Errorf("ntfy %s: %d, want %d", body, got, want)
		}
	}
	if got := post(t, n.URL+"/", "application/json", `{"topic":"t","message":"m"}`); got != 401 {
		t.Errorf("ntfy without a token: %d", got)
	}
	if got := post(t, n.URL+"/", "application/json", `{"topic":"t","message":"m"}`, "Authorization", "Bearer tk_y"); got != 403 {
		t.Errorf("ntfy with a wrong token: %d", got)
	}

	r := dispatchtest.NewWebhookReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if got := post(t, r.URL, "application/json", `{}`, "webhook-id", "msg_1", "webhook-timestamp", "1", "webhook-signature", "v1,AAAA"); got != 401 {
		t.Errorf("webhook with a bad signature: %d", got)
	}
	if d := r.Deliveries(); len(d) != 1 || d[0].VerifyErr == nil || len(r.Accepted()) != 0 {
		t.Errorf("deliveries %+v", d)
	}
}
