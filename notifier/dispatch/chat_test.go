package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

func slackPosts(t *testing.T, s *dispatchtest.Slack, n int) []dispatchtest.SlackPost {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error {
		if got := len(s.Posts()); got < n {
			return fmt.Errorf("%d of %d slack posts; refused: %v", got, n, s.Refused())
		}
		return nil
	})
	return s.Posts()
}

func ntfyMessages(t *testing.T, f *dispatchtest.Ntfy, n int) []dispatchtest.NtfyMessage {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error {
		if got := len(f.Messages()); got < n {
			return fmt.Errorf("%d of %d ntfy messages; refused: %v", got, n, f.Refused())
		}
		return nil
	})
	return f.Messages()
}

func TestSlackAnnouncesAQuestionWithBlockKitAndPostsAgainWhenAnswered(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	slack := dispatchtest.NewSlack(t)
	h.settings("alice", channels.Update{Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL)}})
	h.start()
	msg := "Deploy <!channel> & <http://evil.example|click> to prod?\nIt is Friday."
	s := h.create("alice", sessions.CreateRequest{Message: msg, PredefinedOptions: []string{"Yes", "No <@U123>"},
		Timeout: ptrNum("600")})
	first := slackPosts(t, slack, 1)[0]
	if len(first.Blocks) != 5 {
		t.Fatalf("blocks %+v", first.Blocks)
	}
	header, body, options, ctxBlock, actions := first.Blocks[0], first.Blocks[1], first.Blocks[2], first.Blocks[3], first.Blocks[4]
	if header.Type != "header" || header.Text.Text != "Deploy <!channel> & <http://evil.example|click> to prod?" {
		t.Fatalf("header %+v (plain text shows the first line as it is)", header.Text)
	}
	want := "Deploy &lt;!channel&gt; &amp; &lt;http://evil.example|click&gt; to prod?\nIt is Friday."
	if body.Type != "section" || body.Text.Type != "mrkdwn" || body.Text.Text != want {
		t.Fatalf("section %q, want the question escaped: %q", body.Text.Text, want)
	}
	if options.Text.Text != "*Options*\n• Yes\n• No &lt;@U123&gt;" {
		t.Fatalf("options %q", options.Text.Text)
	}
	var ctxText string
	_ = json.Unmarshal(ctxBlock.Elements[0].Text, &ctxText)
	if ctxBlock.Type != "context" || !strings.Contains(ctxText, "10 min left") || !strings.Contains(ctxText, fmt.Sprintf("<!date^%d^", s.ExpiresAt.Unix())) {
		t.Fatalf("context %q", ctxText)
	}
	button := actions.Elements[0]
	if actions.Type != "actions" || button.Type != "button" || button.URL != publicURL+"/feedback/"+s.ID || button.Style != "primary" {
		t.Fatalf("button %+v", button)
	}
	if !strings.HasPrefix(first.Text, "New question: Deploy &lt;!channel&gt;") {
		t.Fatalf("fallback text %q", first.Text)
	}

	h.submit(s.ID, "Yes")
	second := slackPosts(t, slack, 2)[1]
	if !strings.HasPrefix(second.Text, "Answered: ") || !strings.Contains(second.Blocks[0].Text.Text, "*Answered*") {
		t.Fatalf("second post %+v", second)
	}
	if strings.Contains(mustJSON(t, second), "Yes") {
		t.Fatal("the answer was posted to Slack")
	}
	h.idle()
	out := h.outcomes("alice", channels.KindSlack)
	if len(out) != 2 || out[0].State != channels.Delivered || out[0].StatusCode != 200 {
		t.Fatalf("outcomes %+v", out)
	}
	for _, o := range out {
		if strings.Contains(mustJSON(t, o), "s3cr3tPathToken42") {
			t.Fatal("an outcome shows the Slack webhook URL")
		}
	}
}

func TestSlackEndNoticeWaitsForTheAnnouncementItFollows(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	slack := dispatchtest.NewSlack(t)
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before the fake's server closes, or it would wait for the held post
	slack.FailWith(func(n int) int {
		if n == 1 {
			close(held)
			<-release // the announcement is slow to be accepted
		}
		return 0
	})
	h.settings("bob", channels.Update{Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL)}})
	// Long enough a send timeout that the held announcement is not retried.
	h.start(func(c *dispatch.Config) { c.SendTimeout, c.AckWait = 20*time.Second, 30*time.Second })
	s := h.create("bob", sessions.CreateRequest{Message: "Quick one"})
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the announcement never arrived")
	}
	h.submit(s.ID)
	// The end notice has found its announcement still on its way and
	// waits; only then is the announcement let through.
	poll.Until(t, 10*time.Second, func() error {
		keys, err := deliveryKeys(h, "w.")
		if err != nil || len(keys) == 0 {
			return fmt.Errorf("no wait counted yet (%v)", err)
		}
		return nil
	})
	letGo()
	posts := slackPosts(t, slack, 2)
	h.idle()
	if !strings.HasPrefix(posts[0].Text, "New question") || !strings.HasPrefix(posts[1].Text, "Answered") || len(slack.Posts()) != 2 {
		t.Fatalf("posts in order: %q, %q (%d)", posts[0].Text, posts[1].Text, len(slack.Posts()))
	}
	// Waiting for the announcement is not an attempt.
	out := h.outcomes("bob", channels.KindSlack)
	if len(out) != 2 || out[0].Event != channels.EventCompleted || out[0].Attempts != 1 || out[1].Attempts != 1 {
		t.Fatalf("outcomes %+v", out)
	}
}

func TestSlackAnnouncementStillFailingWhenTheQuestionEndsIsDropped(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	slack := dispatchtest.NewSlack(t)
	slack.FailWith(func(int) int { return http.StatusInternalServerError })
	h.settings("bob", channels.Update{Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL)}})
	h.start()
	s := h.create("bob", sessions.CreateRequest{Message: "Quick one"})
	poll.Until(t, 10*time.Second, func() error {
		if len(slack.Refused()) == 0 {
			return errNotYet
		}
		return nil
	})
	h.submit(s.ID)
	h.idle()
	if p := slack.Posts(); len(p) != 0 {
		t.Fatalf("posts %+v", p)
	}
	out := h.outcomes("bob", channels.KindSlack)
	if len(out) != 1 || out[0].State != channels.Skipped || out[0].Attempts == 0 || !strings.Contains(out[0].Error, "ended") {
		t.Fatalf("outcomes %+v", out)
	}
}

func TestSlackRefusingAMessageIsAPermanentFailure(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	slack := dispatchtest.NewSlack(t)
	h.settings("carol", channels.Update{Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL + "-revoked")}})
	h.start()
	s := h.create("carol", sessions.CreateRequest{Message: "Anyone?"})
	poll.Until(t, 15*time.Second, func() error {
		if out := h.outcomes("carol", channels.KindSlack); len(out) != 1 || out[0].State != channels.Failed || out[0].StatusCode != 404 {
			return fmt.Errorf("outcomes %+v", out)
		}
		return nil
	})
	h.submit(s.ID)
	h.idle()
	// No announcement, so no end notice either.
	if r := slack.Refused(); len(r) != 1 || r[0] != "no_service" {
		t.Fatalf("refused %v", r)
	}
	if strings.Contains(h.outcomes("carol", channels.KindSlack)[0].Error, "s3cr3t") {
		t.Fatal("the error shows the Slack webhook URL")
	}
}

// deliveryKeys lists the dispatcher's record keys that start with prefix.
func deliveryKeys(h *harness, prefix string) ([]string, error) {
	ctx := context.Background()
	kv, err := h.ns.JS.KeyValue(ctx, dispatch.RecordsBucket)
	if err != nil {
		return nil, err
	}
	l, err := kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

func TestNtfyMessagesCarryActionsThatAnswer(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	ntfy := dispatchtest.NewNtfy(t, "tk_0123456789abcdef")
	h.settings("dave", channels.Update{Ntfy: &channels.NtfyUpdate{URL: ntfy.TopicURL("dave-questions"), Token: ptr("tk_0123456789abcdef")}})
	h.start()
	two := h.create("dave", sessions.CreateRequest{Message: "Merge «PR 7»?\nCI is green.", PredefinedOptions: []string{"Merge", "Wait"}})
	m := ntfyMessages(t, ntfy, 1)[0]
	link := publicURL + "/feedback/" + two.ID
	if m.Topic != "dave-questions" || m.Title != "Merge «PR 7»?" || m.Priority != 4 || m.Click != link ||
		len(m.Tags) != 1 || m.Tags[0] != "question" || m.Authorization != "Bearer tk_0123456789abcdef" {
		t.Fatalf("message %+v", m)
	}
	if !strings.Contains(m.Message, "CI is green.") || !strings.Contains(m.Message, "Options: Merge · Wait") || !strings.Contains(m.Message, "left") {
		t.Fatalf("message body %q", m.Message)
	}
	if len(m.Actions) != 3 || m.Actions[0].Action != "view" || m.Actions[0].URL != link || m.Actions[0].Label != "Answer" {
		t.Fatalf("actions %+v", m.Actions)
	}
	merge := m.Actions[1]
	if merge.Action != "http" || merge.Method != "POST" || merge.URL != publicURL+"/api/feedback/"+two.ID+"/submit" ||
		merge.Headers["Content-Type"] != "application/json" || merge.Label != "Merge" || !merge.Clear {
		t.Fatalf("option action %+v", merge)
	}
	// The action's body is a submit request the service accepts as is.
	var req sessions.SubmitRequest
	if err := json.Unmarshal([]byte(merge.Body), &req); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Submit(context.Background(), two.ID, &req); err != nil {
		t.Fatalf("the ntfy action's body does not answer: %v", err)
	}
	end := ntfyMessages(t, ntfy, 2)[1]
	if end.Title != "Answered: Merge «PR 7»?" || end.Priority != 2 || end.Tags[0] != "white_check_mark" || len(end.Actions) != 0 {
		t.Fatalf("end message %+v", end)
	}

	// ntfy allows three actions: three options take all three, more
	// options leave only "Answer".
	three := h.create("dave", sessions.CreateRequest{Message: "Pick", PredefinedOptions: []string{"a", "b", "c"}})
	four := h.create("dave", sessions.CreateRequest{Message: "Pick more", PredefinedOptions: []string{"a", "b", "c", "d"}})
	ntfyMessages(t, ntfy, 4)
	for _, m := range ntfy.Messages()[2:] {
		switch {
		case strings.HasSuffix(m.Click, three.ID):
			if len(m.Actions) != 3 || m.Actions[0].Action != "http" || m.Actions[2].Label != "c" {
				t.Fatalf("three options: %+v", m.Actions)
			}
		case strings.HasSuffix(m.Click, four.ID):
			if len(m.Actions) != 1 || m.Actions[0].Action != "view" {
				t.Fatalf("four options: %+v", m.Actions)
			}
		default:
			t.Fatalf("unexpected message %+v", m)
		}
	}
	if r := ntfy.Refused(); len(r) != 0 {
		t.Fatalf("ntfy refused %v", r)
	}
}

func TestNtfyWithAWrongTokenFailsForGood(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	ntfy := dispatchtest.NewNtfy(t, "tk_right")
	h.settings("erin", channels.Update{Ntfy: &channels.NtfyUpdate{URL: ntfy.TopicURL("erin"), Token: ptr("tk_wrong")}})
	h.start()
	h.create("erin", sessions.CreateRequest{Message: "Hello?"})
	poll.Until(t, 15*time.Second, func() error {
		if out := h.outcomes("erin", channels.KindNtfy); len(out) != 1 || out[0].State != channels.Failed || out[0].StatusCode != 403 {
			return fmt.Errorf("outcomes %+v", out)
		}
		return nil
	})
	if o := h.outcomes("erin", channels.KindNtfy)[0]; strings.Contains(o.Error, "tk_wrong") {
		t.Fatalf("the error shows the token: %s", o.Error)
	}
}

func TestSendTestReachesEveryDestinationOfTheChannel(t *testing.T) {
	secret := channels.NewWebhookSecret()
	ops := dispatchtest.NewWebhookReceiver(t, secret)
	h := newHarness(t, channels.Defaults{Webhook: &channels.Webhook{ID: channels.DefaultID, URL: ops.URL, Secret: secret}})
	mine := dispatchtest.NewWebhookReceiver(t, secret)
	slack := dispatchtest.NewSlack(t)
	h.settings("frank", channels.Update{Webhooks: []channels.WebhookUpdate{hook(mine, secret, false)},
		Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL)}})
	r := h.start()
	ctx := context.Background()

	out, err := dispatch.RequestTest(ctx, h.ns.NC, "frank", channels.KindWebhook)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].State != channels.Delivered || out[0].Event != channels.EventTest {
		t.Fatalf("outcomes %+v", out)
	}
	got := mine.Accepted()
	if len(got) != 1 || got[0].Type != "test" || got[0].VerifyErr != nil || got[0].ID != out[0].ID {
		t.Fatalf("receiver got %+v", got)
	}
	if len(ops.Deliveries()) != 0 {
		t.Fatal("the test went to the operator's default, which frank's own webhook replaces")
	}
	// Judy has nothing of her own: the test goes to the default.
	if out, err := dispatch.RequestTest(ctx, h.ns.NC, "judy", channels.KindWebhook); err != nil || len(out) != 1 || !out[0].Default {
		t.Fatalf("judy: %+v, %v", out, err)
	}
	if out, err := r.d.SendTest(ctx, "frank", channels.KindSlack); err != nil || len(out) != 1 || slack.Posts()[0].Text != dispatch.TestMessage {
		t.Fatalf("slack: %+v, %v", out, err)
	}
	if o := h.outcomes("frank", channels.KindSlack); len(o) != 1 || o[0].Event != channels.EventTest {
		t.Fatalf("the test is not among the recent deliveries: %+v", o)
	}
	for kind, field := range map[channels.Kind]string{channels.KindNtfy: "channel", channels.KindTelegram: "channel", "sms": "channel"} {
		_, err := dispatch.RequestTest(ctx, h.ns.NC, "frank", kind)
		if e, ok := err.(*sessions.Error); !ok || e.Code != sessions.CodeInvalidRequest || e.Field != field {
			t.Errorf("%s: %v, want INVALID_REQUEST on %s", kind, err, field)
		}
	}
	r.stop()
	if _, err := dispatch.RequestTest(ctx, h.ns.NC, "frank", channels.KindWebhook); sessions.ErrorCode(err) != sessions.CodeServiceUnavailable {
		t.Fatalf("with no dispatcher running: %v", err)
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	if _, err := dispatch.New(dispatch.Config{}); err == nil {
		t.Fatal("New with nothing configured returned no error")
	}
	h := newHarness(t, channels.Defaults{})
	if _, err := dispatch.New(h.config(h.ns.JS)); err != nil {
		t.Fatalf("the valid base configuration: %v", err)
	}
	for name, mut := range map[string]func(*dispatch.Config){
		"no public URL":       func(c *dispatch.Config) { c.PublicURL = "" },
		"relative public URL": func(c *dispatch.Config) { c.PublicURL = "feedback.example.com" },
		"ack wait too short":  func(c *dispatch.Config) { c.SendTimeout, c.AckWait = 10*time.Second, 5*time.Second },
	} {
		cfg := h.config(h.ns.JS)
		mut(&cfg)
		if _, err := dispatch.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func ptrNum(s string) *sessions.Number { n := sessions.Number(s); return &n }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
