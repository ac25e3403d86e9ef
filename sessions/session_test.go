package sessions_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

func TestStateMachineIsOneWay(t *testing.T) {
	all := []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled}
	for _, from := range all {
		for _, to := range all {
			want := from == sessions.StatusPending && to != sessions.StatusPending
			if got := from.CanBecome(to); got != want {
				t.Errorf("%s → %s: %v, want %v", from, to, got, want)
			}
		}
	}
	if sessions.Status("done").Valid() || sessions.StatusPending.CanBecome("done") {
		t.Fatal("unknown statuses must not be valid targets")
	}
}

func TestCombineFeedback(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		text string
		want string
	}{
		{[]string{"a", "b"}, "  note \n", "a\nb\n\nnote"},
		{[]string{"a"}, "", "a"},
		{nil, " text ", "text"},
		{nil, "   ", ""},
		{[]string{"选项"}, "文字🙂", "选项\n\n文字🙂"},
	} {
		if got := sessions.CombineFeedback(tc.opts, tc.text); got != tc.want {
			t.Errorf("CombineFeedback(%q, %q) = %q, want %q", tc.opts, tc.text, got, tc.want)
		}
	}
}

func TestPreviewCountsCharacters(t *testing.T) {
	if got := sessions.Preview(strings.Repeat("问", 150), 100); got != strings.Repeat("问", 100) {
		t.Fatalf("preview of CJK cut at %d bytes", len(got))
	}
	if got := sessions.Preview("short", 100); got != "short" {
		t.Fatalf("short preview %q", got)
	}
}

func TestCheckID(t *testing.T) {
	if err := sessions.CheckID(sessions.NewID()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x", "5E16ED4D-E404-4882-876E-AF768F85AE7C", "5e16ed4de4044882876eaf768f85ae7c", "5e16ed4d-e404-4882-876e-af768f85ae7g", "../../etc/passwd-000000000000000000", "5e16ed4d-e404-4882-876e-af768f85ae7c\n"} {
		if sessions.CheckID(bad) == nil {
			t.Errorf("CheckID(%q) accepted", bad)
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		id := sessions.NewID()
		if seen[id] || id[14] != '4' {
			t.Fatalf("id %s repeated or not version 4", id)
		}
		seen[id] = true
	}
}

func num(s string) *sessions.Number { n := sessions.Number(s); return &n }

func TestValidateCreateBounds(t *testing.T) {
	l := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	ok := func(r sessions.CreateRequest) time.Duration {
		t.Helper()
		d, err := l.ValidateCreate(&r)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		return d
	}
	bad := func(r sessions.CreateRequest, field string) {
		t.Helper()
		_, err := l.ValidateCreate(&r)
		var e *sessions.Error
		if err == nil || sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
			t.Fatalf("%+v: %v, want INVALID_REQUEST", r, err)
		}
		if e, _ = err.(*sessions.Error); e.Field != field {
			t.Fatalf("field %q, want %q", e.Field, field)
		}
	}
	if d := ok(sessions.CreateRequest{Message: "q"}); d != 300*time.Second {
		t.Fatalf("default timeout %s", d)
	}
	if d := ok(sessions.CreateRequest{Message: "q", Timeout: num("30")}); d != 30*time.Second {
		t.Fatalf("timeout %s", d)
	}
	ok(sessions.CreateRequest{Message: strings.Repeat("🙂", 1000)})
	bad(sessions.CreateRequest{Message: strings.Repeat("🙂", 1001)}, "message")
	bad(sessions.CreateRequest{Message: "q", Timeout: num("29")}, "timeout")
	bad(sessions.CreateRequest{Message: "q", Timeout: num("3601")}, "timeout")
	bad(sessions.CreateRequest{Message: "q", Timeout: num("1e400")}, "timeout")
	bad(sessions.CreateRequest{Message: "q", Metadata: json.RawMessage(`"str"`)}, "metadata")
	bad(sessions.CreateRequest{Message: "bad\xffutf8"}, "message")
	ok(sessions.CreateRequest{Message: "q", Metadata: json.RawMessage(`null`)})
}

func TestValidateSubmitAgainstTheSession(t *testing.T) {
	l := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	s := &sessions.Session{PredefinedOptions: []string{"yes", "no"}}
	text := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		req  sessions.SubmitRequest
		ok   bool
	}{
		{"one option", sessions.SubmitRequest{SelectedOptions: []string{"yes"}}, true},
		{"text only", sessions.SubmitRequest{FreeText: text("hi")}, true},
		{"both", sessions.SubmitRequest{SelectedOptions: []string{"no", "yes"}, FreeText: text("hi")}, true},
		{"nothing", sessions.SubmitRequest{}, false},
		{"blank text", sessions.SubmitRequest{FreeText: text(" \n ")}, false},
		{"unknown option", sessions.SubmitRequest{SelectedOptions: []string{"maybe"}}, false},
		{"twice", sessions.SubmitRequest{SelectedOptions: []string{"yes", "yes"}}, false},
		{"1000 characters", sessions.SubmitRequest{FreeText: text(strings.Repeat("字", 1000))}, true},
		{"1001 characters", sessions.SubmitRequest{FreeText: text(strings.Repeat("字", 1001))}, false},
	} {
		err := l.ValidateSubmit(&tc.req, s)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	now := time.Now()
	s := &sessions.Session{PredefinedOptions: []string{"a"}, SubmittedAt: &now, Feedback: &sessions.Feedback{SelectedOptions: []string{"a"}}}
	c := s.Clone()
	c.PredefinedOptions[0] = "changed"
	c.Feedback.SelectedOptions[0] = "changed"
	*c.SubmittedAt = now.Add(time.Hour)
	if s.PredefinedOptions[0] != "a" || s.Feedback.SelectedOptions[0] != "a" || !s.SubmittedAt.Equal(now) {
		t.Fatal("Clone shares memory with the original")
	}
}

func TestHubGivesAWrittenVersionToItsSessionOnceAndLeavesTheFeedOrderAlone(t *testing.T) {
	h := sessions.NewHub()
	var one, all, written []uint64
	defer h.Subscribe("a", func(s *sessions.Session) { one = append(one, s.Revision) })()
	defer h.SubscribeAll(func(s *sessions.Session) { all = append(all, s.Revision) })()
	defer h.SubscribeWritten(func(s *sessions.Session) { written = append(written, s.Revision) })()

	h.PublishWritten(&sessions.Session{ID: "a", Revision: 7}) // the answer, as its CAS is acknowledged
	h.Publish(&sessions.Session{ID: "a", Revision: 7})        // the same version from the feed
	h.Publish(&sessions.Session{ID: "a", Revision: 5})        // an older one the feed brings late
	h.Publish(&sessions.Session{ID: "a", Revision: 9})
	h.Publish(&sessions.Session{ID: "a", Revision: 9}) // a redelivery
	// The feed may also bring a version before its writer publishes it.
	h.Publish(&sessions.Session{ID: "a", Revision: 11})
	h.PublishWritten(&sessions.Session{ID: "a", Revision: 11})

	if want := []uint64{7, 9, 11}; !slices.Equal(one, want) {
		t.Errorf("the session's subscriber got revisions %v, want %v", one, want)
	}
	if want := []uint64{7, 5, 9, 9, 11}; !slices.Equal(all, want) {
		t.Errorf("SubscribeAll got %v, want the feed as it came: %v", all, want)
	}
	if want := []uint64{7, 11}; !slices.Equal(written, want) {
		t.Errorf("SubscribeWritten got %v, want %v", written, want)
	}
}

func TestHubDeliversAndUnsubscribes(t *testing.T) {
	h := sessions.NewHub()
	var one, all int
	cancel1 := h.Subscribe("a", func(*sessions.Session) { one++ })
	cancelAll := h.SubscribeAll(func(*sessions.Session) { all++ })
	h.Publish(&sessions.Session{ID: "a"})
	h.Publish(&sessions.Session{ID: "b"})
	cancel1()
	cancel1() // idempotent
	h.Publish(&sessions.Session{ID: "a"})
	cancelAll()
	if one != 1 || all != 3 || h.Subscribers() != 0 {
		t.Fatalf("one=%d all=%d left=%d", one, all, h.Subscribers())
	}
}
