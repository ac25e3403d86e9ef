package dispatch

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

func TestClassifyAnswers(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		kind       ErrorKind
		ok         bool
		after      time.Duration
	}{
		{200, "", 0, true, 0},
		{204, "", 0, true, 0},
		{301, "", Permanent, false, 0},
		{400, "", Permanent, false, 0},
		{401, "", Permanent, false, 0},
		{404, "", Permanent, false, 0},
		{410, "", Permanent, false, 0},
		{408, "", Transient, false, 0},
		{429, "7", Transient, false, 7 * time.Second},
		{500, "", Transient, false, 0},
		{503, "120", Transient, false, 2 * time.Minute},
		{503, "999999999", Transient, false, maxRetryAfter},
		{502, "soon", Transient, false, 0},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		rcpt, err := classify(resp, "body text")
		if tc.ok {
			if err != nil || rcpt.StatusCode != tc.status {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		f := failure(err)
		if f.Kind != tc.kind || f.StatusCode != tc.status || f.RetryAfter != tc.after {
			t.Errorf("%d: kind %d status %d after %s; want kind %d after %s", tc.status, f.Kind, f.StatusCode, f.RetryAfter, tc.kind, tc.after)
		}
	}
	if d := retryAfter(time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)); d < 80*time.Second || d > 90*time.Second {
		t.Errorf("Retry-After as a date: %s", d)
	}
	if f := failure(errors.New("connection reset")); f.Kind != Transient {
		t.Error("a plain error must count as transient")
	}
}

func TestReadSnippetIsShortAndPrintable(t *testing.T) {
	s := readSnippet(strings.NewReader("line one\n\x00\x1b[31m" + strings.Repeat("é", 400)))
	if strings.ContainsAny(s, "\n\x00\x1b") || len([]rune(s)) > 201 {
		t.Fatalf("snippet %q", s)
	}
}

func TestTextHelpers(t *testing.T) {
	s := &sessions.Session{Message: "\n  \n  First line  \nsecond"}
	if got := headline(s, 150); got != "First line" {
		t.Errorf("headline %q", got)
	}
	if got := headline(&sessions.Session{Message: strings.Repeat("字", 200)}, 150); len([]rune(got)) != 150 || !strings.HasSuffix(got, "…") {
		t.Errorf("long headline %d runes: %q", len([]rune(got)), got)
	}
	if root, topic, err := ntfyRoot("https://ntfy.example.com/prefix/my-topic/"); err != nil || root != "https://ntfy.example.com/prefix/" || topic != "my-topic" {
		t.Errorf("ntfyRoot: %s %s %v", root, topic, err)
	}
	if _, _, err := ntfyRoot("https://ntfy.example.com/"); err == nil {
		t.Error("a URL without a topic accepted")
	}
}

func TestJobIDsAreStableAndDistinct(t *testing.T) {
	a := jobID("alice", channels.KindWebhook, "wh_1", "s1", channels.EventCreated)
	if a != jobID("alice", channels.KindWebhook, "wh_1", "s1", channels.EventCreated) {
		t.Fatal("the same job got two ids")
	}
	for _, other := range []string{
		jobID("alice", channels.KindWebhook, "wh_1", "s1", channels.EventCompleted),
		jobID("alice", channels.KindWebhook, "wh_2", "s1", channels.EventCreated),
		jobID("bob", channels.KindWebhook, "wh_1", "s1", channels.EventCreated),
		jobID("alice", channels.KindSlack, "wh_1", "s1", channels.EventCreated),
		jobID("alice", channels.KindWebhook, "wh_1", "s2", channels.EventCreated),
	} {
		if other == a {
			t.Fatal("two jobs share an id")
		}
	}
	if subj := jobSubject(destKey("alice", channels.KindSlack, "own"), "s1", channels.EventCreated); strings.Count(subj, ".") != 4 || !strings.HasSuffix(subj, ".s1.created") {
		t.Fatalf("subject %s", subj)
	}
}

func TestBackoffGrowsWithJitterAndStopsAtTheCap(t *testing.T) {
	d := &Dispatcher{cfg: Config{RetryBase: time.Second, RetryMax: time.Minute}}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 1000: time.Minute} {
		for range 20 {
			if got := d.backoff(attempt); got < want/2 || got > want {
				t.Fatalf("attempt %d waits %s, want between %s and %s", attempt, got, want/2, want)
			}
		}
	}
}

// FuzzSignIsVerifiedByTheStandardWebhooksLibrary checks our signature
// against the reference implementation for any id, body and key.
func FuzzSignIsVerifiedByTheStandardWebhooksLibrary(f *testing.F) {
	f.Add("msg_abc", []byte(`{"type":"session.created"}`), []byte("0123456789abcdefghijklmn"))
	f.Add("", []byte{}, make([]byte, 24))
	f.Fuzz(func(t *testing.T, id string, body, key []byte) {
		if len(key) < channels.MinSecretBytes || len(key) > channels.MaxSecretBytes || id == "" ||
			strings.ContainsAny(id, "\r\n\x00") {
			return
		}
		wh, err := standardwebhooks.NewWebhook(channels.SecretPrefix + base64.StdEncoding.EncodeToString(key))
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", "v1,"+Sign(key, id, ts, body))
		if err := wh.Verify(body, h); err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
	})
}

// FuzzMessageRef: a Telegram message reference reads back as written, and
// anything else is refused, never misread.
func FuzzMessageRef(f *testing.F) {
	f.Add(int64(4242), 17, "4242:17")
	f.Add(int64(-1001234567890), 1, "-1001234567890:0")
	f.Add(int64(0), 0, ":")
	f.Fuzz(func(t *testing.T, chat int64, msg int, ref string) {
		if msg > 0 {
			c, m, err := parseMessageRef(messageRef(chat, msg))
			if err != nil || c != chat || m != msg {
				t.Fatalf("%d:%d read back as %d:%d, %v", chat, msg, c, m, err)
			}
		}
		// Only the canonical form is accepted, so one message has one name.
		if c, m, err := parseMessageRef(ref); err == nil && messageRef(c, m) != ref {
			t.Fatalf("%q read as %d:%d", ref, c, m)
		}
	})
}

func TestTelegramQuestionOfEachKind(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	q := telegramQuestion(&sessions.Session{ID: "s1", Message: "Pick", PredefinedOptions: []string{"a", "b"}, ExpiresAt: exp}, "https://x.example.com/feedback/s1")
	if !q.MultiSelect || len(q.Options) != 2 || q.Hint != "" {
		t.Errorf("multi-select question %+v", q)
	}
	q = telegramQuestion(&sessions.Session{ID: "s1", Message: "Pick", PredefinedOptions: []string{"a"}, ExpiresAt: exp}, "")
	if q.MultiSelect {
		t.Errorf("one option is not a multi-select: %+v", q)
	}
	q = telegramQuestion(&sessions.Session{ID: "s1", Title: "Deploy", Message: "Friday.", Approval: &sessions.Approval{Action: "Run it",
		Details: []byte(`{"a":1}`)}, ExpiresAt: exp}, "")
	if q.Title != "Deploy" || q.Message != "Approve: Run it?\n\nFriday.\n\n{\"a\":1}" || len(q.Options) != 2 || q.MultiSelect {
		t.Errorf("approval %+v", q)
	}
	q = telegramQuestion(&sessions.Session{ID: "s1", Message: "Form", Fields: &sessions.FormSchema{}, PredefinedOptions: nil, ExpiresAt: exp}, "")
	if len(q.Options) != 0 || !strings.Contains(q.Hint, "form") {
		t.Errorf("form %+v", q)
	}
	if got := headline(&sessions.Session{Title: "T", Message: "M"}, 50); got != "T" {
		t.Errorf("headline with a title %q", got)
	}
	if got := headline(&sessions.Session{Approval: &sessions.Approval{Action: "Merge"}}, 50); got != "Approve: Merge?" {
		t.Errorf("headline of an approval %q", got)
	}
}
