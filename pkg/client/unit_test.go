package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The codes no test against the real server can provoke (the server's own
// bugs, a proxy's pages) are decoded from the documented envelope and from
// the bare answers a proxy gives.
func TestDecodeErrorMapsEveryCodeToOneSentinel(t *testing.T) {
	all := []error{ErrInvalid, ErrUnauthorized, ErrNotFound, ErrNoFeedback, ErrNoRoute, ErrMethodNotAllowed,
		ErrAlreadySubmitted, ErrExpired, ErrCancelled, ErrPayloadTooLarge, ErrRateLimited, ErrUnavailable,
		ErrInternal, ErrForbiddenOrigin, ErrUpgradeRequired}
	for code, want := range sentinels {
		body := fmt.Sprintf(`{"success":false,"data":null,"error":{"code":%q,"message":"m"},"timestamp":"2026-11-22T04:39:57.040Z"}`, code)
		err := decodeError(418, http.Header{}, []byte(body))
		for _, s := range all {
			if got := errors.Is(err, s); got != (s == want) {
				t.Errorf("%s: errors.Is(%v) = %v", code, s, got)
			}
		}
	}
	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{500, `{"success":false,"data":null,"error":{"code":"INTERNAL_ERROR","message":"an internal error occurred"},"timestamp":"x"}`, ErrInternal},
		{413, ``, ErrPayloadTooLarge},
		{502, `<html><body>Bad Gateway</body></html>`, ErrUnavailable},
		{504, `upstream timed out`, ErrUnavailable},
		{404, `404 page not found`, ErrNoRoute},
	} {
		err := decodeError(tc.status, http.Header{"Retry-After": {"7"}, "X-Request-Id": {"abc"}}, []byte(tc.body))
		if !errors.Is(err, tc.want) {
			t.Errorf("%d %q: %v is not %v", tc.status, tc.body, err, tc.want)
		}
		if err.RetryAfter != 7*time.Second || err.RequestID != "abc" || err.Status != tc.status {
			t.Errorf("%d: %+v", tc.status, err)
		}
		if strings.Contains(err.Message, "<") {
			t.Errorf("%d: an HTML page became the message %q", tc.status, err.Message)
		}
	}
}

func TestAPIErrorSaysWhatTheServerSaid(t *testing.T) {
	err := decodeError(400, http.Header{"X-Request-Id": {"r1"}}, []byte(`{"success":false,"error":{"code":"INVALID_REQUEST","message":"message: must not be blank","details":{"field":"message","reason":"must not be blank"}}}`))
	if err.Field != "message" || err.Reason != "must not be blank" {
		t.Fatalf("details %+v", err)
	}
	if got := err.Error(); got != "feedbackd: INVALID_REQUEST: message: must not be blank [request r1]" {
		t.Fatalf("Error() = %q", got)
	}
}

// A connection lost between a status change and the message that follows it
// resumes below the change; the replayed change is dropped, the follow-up
// delivered, and the stream ends after it.
func TestStreamResumesBelowAnUnfinishedTransition(t *testing.T) {
	st := (&Client{}).newStream("/ws/x", nil)
	st.single, st.resuming = true, true
	ev := func(typ EventType, rev uint64, status Status) Event {
		return Event{Type: typ, SessionID: "s", Revision: rev, Status: status}
	}
	step := func(e Event, deliver, finished bool) {
		t.Helper()
		d, f := st.accept(e)
		if d != deliver || f != finished {
			t.Fatalf("%s@%d: deliver %v finished %v, want %v %v", e.Type, e.Revision, d, f, deliver, finished)
		}
	}
	step(ev(EventConnected, 5, StatusPending), true, false)
	step(ev(EventStatusChanged, 9, StatusCompleted), true, false)
	if st.resume != 5 {
		t.Fatalf("resume %d after half a transition, want 5", st.resume)
	}
	// The connection drops; the server replays from 5.
	step(ev(EventConnected, 5, StatusCompleted), true, false)
	step(ev(EventStatusChanged, 9, StatusCompleted), false, false)
	step(ev(EventSubmitted, 9, StatusCompleted), true, true)
	if st.resume != 9 {
		t.Fatalf("resume %d after the whole transition, want 9", st.resume)
	}
}

func TestStreamDropsEveryReplayedMessage(t *testing.T) {
	st := (&Client{}).newStream("/ws", nil)
	var got []string
	feed := func(evs ...Event) {
		for _, e := range evs {
			if d, _ := st.accept(e); d {
				got = append(got, fmt.Sprintf("%s/%s@%d", e.Type, e.SessionID, e.Revision))
			}
		}
	}
	first := []Event{
		{Type: EventConnected, Revision: 10},
		{Type: EventCreated, SessionID: "a", Revision: 11, Status: StatusPending},
		{Type: EventCreated, SessionID: "b", Revision: 12, Status: StatusPending},
		{Type: EventStatusChanged, SessionID: "a", Revision: 13, Status: StatusExpired},
	}
	feed(first...)
	if st.resume != 12 {
		t.Fatalf("resume %d, want 12", st.resume)
	}
	// Replay after the drop: a's whole transition, then what came later.
	feed(Event{Type: EventConnected, Revision: 12},
		Event{Type: EventStatusChanged, SessionID: "a", Revision: 13, Status: StatusExpired},
		Event{Type: EventExpired, SessionID: "a", Revision: 13, Status: StatusExpired},
		Event{Type: EventStatusChanged, SessionID: "b", Revision: 14, Status: StatusCancelled},
	)
	want := []string{"connection_established/@10", "session_created/a@11", "session_created/b@12",
		"session_status_changed/a@13", "connection_established/@12", "session_expired/a@13", "session_status_changed/b@14"}
	if !slices.Equal(got, want) {
		t.Fatalf("yielded\n%v\nwant\n%v", got, want)
	}
	if st.resume != 14 {
		t.Fatalf("resume %d, want 14", st.resume)
	}
}

func TestRecentKeysForgetsTheOldest(t *testing.T) {
	r := newRecentKeys(2)
	for _, k := range []string{"a", "b", "c"} {
		if !r.add(k) {
			t.Fatalf("%s is new", k)
		}
	}
	if !r.add("a") || r.add("c") {
		t.Fatal("a was forgotten and c remembered")
	}
}

// A form keeps its fields in the order written, both ways, and writes the
// requestedSchema subset of MCP elicitation.
func TestFormRoundTrip(t *testing.T) {
	minimum, maximum, minItems := 1.0, 10.0, 1
	f := Form{Fields: []Field{
		{Name: "zeta", Type: FieldString, Title: "Name", Required: true, MaxLength: new(40)},
		{Name: "alpha", Type: FieldInteger, Minimum: &minimum, Maximum: &maximum, Default: 3},
		{Name: "when", Type: FieldString, Format: FormatDate},
		{Name: "ok", Type: FieldBoolean, Default: false},
		{Name: "env", Type: FieldString, Choices: []Choice{{Value: "staging"}, {Value: "prod"}}, Required: true},
		{Name: "tier", Type: FieldString, Choices: []Choice{{Value: "a", Title: "Tier A"}}},
		{Name: "tags", Type: FieldArray, Choices: []Choice{{Value: "x"}, {Value: "y"}}, MinItems: &minItems},
		{Name: "teams", Type: FieldArray, Choices: []Choice{{Value: "t1", Title: "Team 1"}}},
	}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{` +
		`"zeta":{"type":"string","title":"Name","maxLength":40},` +
		`"alpha":{"type":"integer","minimum":1,"maximum":10,"default":3},` +
		`"when":{"type":"string","format":"date"},` +
		`"ok":{"type":"boolean","default":false},` +
		`"env":{"type":"string","enum":["staging","prod"]},` +
		`"tier":{"type":"string","oneOf":[{"const":"a","title":"Tier A"}]},` +
		`"tags":{"type":"array","minItems":1,"items":{"type":"string","enum":["x","y"]}},` +
		`"teams":{"type":"array","items":{"anyOf":[{"const":"t1","title":"Team 1"}]}}` +
		`},"required":["zeta","env"]}`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	var back Form
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b2) != want {
		t.Fatalf("after a round trip\n%s", b2)
	}
	var names []string
	for _, fl := range back.Fields {
		names = append(names, fl.Name)
	}
	if !slices.Equal(names, []string{"zeta", "alpha", "when", "ok", "env", "tier", "tags", "teams"}) {
		t.Fatalf("order %v", names)
	}
}

func TestQuestionWritesTheCreateRequest(t *testing.T) {
	b, err := json.Marshal(Question{Message: "m", Options: []string{"A"}, SingleChoice: true, Timeout: 1500 * time.Millisecond,
		Images: []Image{{Data: []byte{1, 2}, Name: "x.png"}}, Metadata: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	want := map[string]any{"message": "m", "predefinedOptions": []any{"A"}, "multiSelect": false, "timeout": 2.0,
		"images": []any{map[string]any{"data": "AQI=", "name": "x.png"}}, "metadata": map[string]any{"n": 1.0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", b)
	}
	if b, _ := json.Marshal(Question{Message: "m"}); string(b) != `{"message":"m"}` {
		t.Fatalf("a plain question is %s", b)
	}
}

func TestOptionsRefuseWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"ftp URL", WithBaseURL("ftp://example.com")},
		{"no host", WithBaseURL("http://")},
		{"query", WithBaseURL("http://example.com/?x=1")},
		{"user info", WithBaseURL("http://u:p@example.com")},
		{"long poll 0", WithLongPoll(0)},
		{"long poll 61s", WithLongPoll(61 * time.Second)},
		{"notifier URL", WithNotifierURL("ws://example.com")},
	} {
		if _, err := New(tc.opt); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	env := map[string]string{EnvAPIKey: "k", EnvToken: "t"}
	if _, err := fromLookup(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "set one") {
		t.Errorf("both credentials in the environment: %v", err)
	}
	c, err := fromLookup(func(k string) string {
		return map[string]string{EnvURL: "https://fb.example.com/base/", EnvToken: "t"}[k]
	})
	if err != nil || c.BaseURL() != "https://fb.example.com/base" || c.token != "t" || c.apiKey != "" {
		t.Fatalf("from the environment: %v %+v", err, c)
	}
	// An option after the environment wins, credentials included.
	c, _ = fromLookup(func(k string) string { return map[string]string{EnvToken: "t"}[k] }, WithAPIKey("k"))
	if c.apiKey != "k" || c.token != "" {
		t.Fatalf("WithAPIKey did not replace the token: %+v", c)
	}
}

func TestSessionIDsThatWouldChangeThePathAreRefused(t *testing.T) {
	for _, id := range []string{"", ".", "..", "a/b", "x?y", "x#y", "%2e%2e", `a\b`} {
		if _, err := sessionPath(id, "/status"); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

// The package stands alone: a program that uses it links nothing of the
// server (package doc).
func TestImportsNothingOfTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(dep, "github.com/feedbackd/feedbackd/") && dep != "github.com/feedbackd/feedbackd/pkg/client" {
			t.Errorf("pkg/client depends on %s", dep)
		}
	}
}

// A status names the question in a "question" object, a list item beside
// the status; both land in Session.Asked.
func TestSessionReadsBothShapes(t *testing.T) {
	status := `{"sessionId":"s","status":"pending","createdAt":"2026-11-22T04:36:12.481Z","expiresAt":"2026-11-22T04:46:12.481Z",
		"question":{"kind":"question","title":"T","message":"M","predefinedOptions":["A","B"],"multiSelect":false,
		"fields":null,"images":[{"id":"i","name":"a.png","mimeType":"image/png","size":3,"url":"http://x/api/feedback/s/images/i"}],"metadata":{"k":1}}}`
	item := `{"sessionId":"s","message":"M","status":"completed","createdAt":"2026-11-22T04:36:12.481Z","expiresAt":"2026-11-22T04:46:12.481Z",
		"submittedAt":"2026-11-22T04:39:57.034Z","kind":"approval","title":"T","action":"Run","metadata":{"k":1}}`
	var a, b Session
	if err := json.Unmarshal([]byte(status), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(item), &b); err != nil {
		t.Fatal(err)
	}
	if a.ID != "s" || a.Title != "T" || a.Message != "M" || !slices.Equal(a.Options, []string{"A", "B"}) || a.MultiSelect == nil || *a.MultiSelect ||
		len(a.Images) != 1 || a.Images[0].URL == "" || string(a.Metadata) != `{"k":1}` || a.Heading() != "T" || string(a.Raw) != status {
		t.Errorf("status %+v", a)
	}
	if b.Kind != KindApproval || b.Action != "Run" || b.Message != "M" || b.SubmittedAt == nil || b.Status != StatusCompleted || string(b.Metadata) != `{"k":1}` {
		t.Errorf("list item %+v", b)
	}
}
