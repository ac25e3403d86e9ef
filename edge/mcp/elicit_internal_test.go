package mcp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/sessions"
)

var testLimits = sessions.DefaultLimits(300*time.Second, 3600*time.Second)

func mustForm(t *testing.T, s string) *sessions.FormSchema {
	t.Helper()
	f, err := sessions.ParseFormSchema([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const link = "https://fb.example/feedback/0b4f7c55-3f27-4c71-9d3e-0f1e2a3b4c5d"

func TestPlanAskChoosesFormWhenItFitsElseTheLink(t *testing.T) {
	q := func(mod func(*sessions.Session)) *sessions.Session {
		s := &sessions.Session{ID: "0b4f7c55-3f27-4c71-9d3e-0f1e2a3b4c5d", Message: "Ship it?"}
		if mod != nil {
			mod(s)
		}
		return s
	}
	withImage := q(func(s *sessions.Session) {
		s.Images = []sessions.Image{{ID: "i", Name: "a.png", MimeType: "image/png"}}
	})
	multi := q(func(s *sessions.Session) { s.PredefinedOptions = []string{"a", "b"} })
	for _, tc := range []struct {
		name    string
		sess    *sessions.Session
		caps    clientFeatures
		version string
		want    askMode // "" for no question in the client
		shape   answerShape
	}{
		{"no elicitation", q(nil), 0, "2025-11-25", "", 0},
		{"text as a form", q(nil), featureElicitForm, "2025-11-25", askForm, shapeText},
		{"text on 2025-06-18", q(nil), featureElicitForm, "2025-06-18", askForm, shapeText},
		{"images need the page", withImage, featureElicitForm | featureElicitURL, "2025-11-25", askURL, 0},
		{"images and no URL mode", withImage, featureElicitForm, "2025-11-25", "", 0},
		{"multi-select before 2025-11-25", multi, featureElicitForm, "2025-06-18", "", 0},
		{"multi-select before 2025-11-25 with URL", multi, featureElicitForm | featureElicitURL, "2025-06-18", askURL, 0},
		{"multi-select", multi, featureElicitForm, "2025-11-25", askForm, shapeOptions},
		{"single choice", q(func(s *sessions.Session) { s.PredefinedOptions, s.SingleSelect = []string{"a"}, true }), featureElicitForm, "2025-06-18", askForm, shapeOption},
		{"approval", q(func(s *sessions.Session) { s.Approval = &sessions.Approval{Action: "Run rm"} }), featureElicitForm, "2026-07-28", askForm, shapeApproval},
		{"URL only", q(nil), featureElicitURL, "2025-11-25", askURL, 0},
		// An MCP Apps host shows the app instead, whatever else it declared.
		{"apps host with forms", q(nil), featureApps | featureElicitForm, "2025-11-25", "", 0},
		{"apps host with URL mode", withImage, featureApps | featureElicitForm | featureElicitURL, "2025-11-25", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := planAsk(tc.sess, link, tc.caps, tc.version, testLimits)
			if tc.want == "" {
				if a != nil {
					t.Fatalf("asked %+v", a)
				}
				return
			}
			if a == nil || a.mode != tc.want || a.shape != tc.shape {
				t.Fatalf("ask = %+v, want %s/%d", a, tc.want, tc.shape)
			}
			if err := a.params.Validate(); err != nil {
				t.Fatalf("mcp-go refuses the params: %v", err)
			}
			if a.mode == askURL && (a.params.URL != link || a.params.ElicitationID != tc.sess.ID) {
				t.Fatalf("url params = %+v", a.params)
			}
			if a.mode == askForm && !strings.Contains(a.params.Message, link) {
				t.Fatalf("the form's message does not offer the link: %q", a.params.Message)
			}
		})
	}
}

func TestFormForSendsTheSessionsFieldsOneToOne(t *testing.T) {
	const fields = `{"type":"object","properties":{"day":{"type":"string","title":"Day","format":"date","default":"2026-01-01"},` +
		`"size":{"type":"string","oneOf":[{"const":"s","title":"Small"},{"const":"l","title":"Large"}]},` +
		`"ok":{"type":"boolean","default":true}},"required":["day"]}`
	sess := &sessions.Session{Message: "m", Fields: mustForm(t, fields)}
	got, shape, ok := formFor(sess, true, testLimits)
	want, _ := json.Marshal(sess.Fields)
	if !ok || shape != shapeFields || string(got) != string(want) {
		t.Fatalf("form = %s (%v), want %s", got, ok, want)
	}
	// 2025-06-18 knows titled choices only as enumNames, and defaults on
	// booleans only.
	old, _, ok := formFor(sess, false, testLimits)
	if !ok {
		t.Fatal("no older form")
	}
	var o struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(old, &o); err != nil {
		t.Fatal(err)
	}
	if _, has := o.Properties["day"]["default"]; has {
		t.Errorf("string default kept for 2025-06-18: %s", old)
	}
	if o.Properties["ok"]["default"] != true || o.Properties["size"]["enumNames"] == nil || o.Properties["size"]["oneOf"] != nil {
		t.Errorf("older form = %s", old)
	}
	arr := &sessions.Session{Fields: mustForm(t, `{"type":"object","properties":{"t":{"type":"array","items":{"type":"string","enum":["a","b"]}}}}`)}
	if _, _, ok := formFor(arr, false, testLimits); ok {
		t.Error("a multiple choice was offered to a 2025-06-18 client")
	}
}

func TestSubmissionMapsContentBackToTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		shape   answerShape
		content string
		check   func(*sessions.SubmitRequest) bool
		field   string // the field an INVALID_REQUEST names; "" for success
	}{
		{shapeOptions, `{"selectedOptions":["a","b"],"freeText":"x"}`, func(r *sessions.SubmitRequest) bool {
			return len(r.SelectedOptions) == 2 && *r.FreeText == "x"
		}, ""},
		{shapeOptions, `{"selectedOptions":"a"}`, nil, "selectedOptions"},
		{shapeOption, `{"selectedOption":"a","freeText":"  "}`, func(r *sessions.SubmitRequest) bool {
			return len(r.SelectedOptions) == 1 && r.FreeText == nil
		}, ""},
		{shapeOption, `{"selectedOption":1}`, nil, "selectedOption"},
		{shapeText, `{"freeText":"hello"}`, func(r *sessions.SubmitRequest) bool { return *r.FreeText == "hello" }, ""},
		{shapeText, `{"freeText":"hello","evil":true}`, nil, "content"},
		{shapeApproval, `{"decision":"deny","reason":"no"}`, func(r *sessions.SubmitRequest) bool {
			return r.Decision == sessions.DecisionDeny && *r.Reason == "no"
		}, ""},
		{shapeApproval, `{"decision":["approve"]}`, nil, "decision"},
		{shapeFields, `{"day":"2026-01-01"}`, func(r *sessions.SubmitRequest) bool { return string(r.Values) == `{"day":"2026-01-01"}` }, ""},
		{shapeFields, `[1]`, nil, "content"},
		{shapeText, ``, nil, "content"},
	} {
		a := &ask{shape: tc.shape}
		r, err := a.submission(json.RawMessage(tc.content))
		if tc.field != "" {
			var e *sessions.Error
			if err == nil || sessions.ErrorCode(err) != sessions.CodeInvalidRequest || !errorsAs(err, &e) || e.Field != tc.field {
				t.Errorf("%s: err = %v, want INVALID_REQUEST on %s", tc.content, err, tc.field)
			}
			continue
		}
		if err != nil || !tc.check(r) {
			t.Errorf("%s: %+v, %v", tc.content, r, err)
		}
	}
}

func TestRequestStateNamesTheSessionAndMode(t *testing.T) {
	sess := &sessions.Session{ID: "0b4f7c55-3f27-4c71-9d3e-0f1e2a3b4c5d"}
	for _, m := range []askMode{askForm, askURL} {
		mode, id, err := parseRequestState(requestState(&ask{mode: m}, sess))
		if err != nil || mode != m || id != sess.ID {
			t.Fatalf("round trip %s: %s %s %v", m, mode, id, err)
		}
	}
	for _, bad := range []string{"", "fbk1.", "fbk1.form", "fbk1.form.x", "fbk1.sms." + sess.ID, "fbk2.form." + sess.ID, "fbk1.form." + strings.ToUpper(sess.ID)} {
		if _, _, err := parseRequestState(bad); sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFeaturesOfReadsBothEras(t *testing.T) {
	for _, tc := range []struct {
		json string
		want clientFeatures
	}{
		{`{}`, 0},
		{`{"elicitation":{}}`, featureElicitForm},
		{`{"elicitation":{"form":{}}}`, featureElicitForm},
		{`{"elicitation":{"url":{}}}`, featureElicitURL},
		{`{"elicitation":{"form":{},"url":{}}}`, featureElicitForm | featureElicitURL},
		{`{"extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/html;profile=mcp-app"]}}}`, featureApps},
		{`{"extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/plain"]}}}`, 0},
		{`{"extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/html;profile=mcp-app"]}},"elicitation":{"form":{},"url":{}}}`,
			featureApps | featureElicitForm | featureElicitURL},
	} {
		var c mcpgo.ClientCapabilities
		if err := json.Unmarshal([]byte(tc.json), &c); err != nil {
			t.Fatal(err)
		}
		if got := featuresOf(&c); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.json, got, tc.want)
		}
	}
}

func TestOutboundIDsAreOursOnly(t *testing.T) {
	for raw, want := range map[string]bool{
		`"fbk-0123456789abcdef0123456789abcdef"`: true,
		`"fbk-0123456789ABCDEF0123456789abcdef"`: false,
		`"fbk-0123"`:                             false,
		`7`:                                      false,
		`"fbm-0123456789abcdef0123456789abcdef"`: false,
		`null`:                                   false,
	} {
		if _, ok := isOutboundID(json.RawMessage(raw)); ok != want {
			t.Errorf("%s: %v", raw, ok)
		}
	}
}

func errorsAs(err error, target **sessions.Error) bool { return errors.As(err, target) }

// FuzzElicitSubmission: whatever content a client sends back for a form,
// the answer it maps to is either refused as INVALID_REQUEST naming a field
// or handed to the domain's own validation; it never panics.
func FuzzElicitSubmission(f *testing.F) {
	for _, seed := range []string{`{"selectedOptions":["a"],"freeText":"x"}`, `{"selectedOption":null}`, `{"decision":"approve","reason":"\u0000"}`,
		`[]`, `"s"`, `{"freeText":{"a":1}}`, `{"selectedOptions":[1,{"x":2}]}`, ``, `{`} {
		for shape := shapeFields; shape <= shapeApproval; shape++ {
			f.Add(int(shape), seed)
		}
	}
	f.Fuzz(func(t *testing.T, shape int, content string) {
		a := &ask{shape: answerShape(shape%int(shapeApproval) + 1)}
		r, err := a.submission(json.RawMessage(content))
		if err != nil {
			var e *sessions.Error
			if !errorsAs(err, &e) || e.Code != sessions.CodeInvalidRequest || e.Field == "" {
				t.Fatalf("refusal %v does not name a field", err)
			}
			return
		}
		if r == nil {
			t.Fatal("neither an answer nor an error")
		}
	})
}

// FuzzRequestState: a requestState is this server's or refused.
func FuzzRequestState(f *testing.F) {
	for _, s := range []string{"fbk1.form.0b4f7c55-3f27-4c71-9d3e-0f1e2a3b4c5d", "fbk1.url.x", "", "fbk1..", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mode, id, err := parseRequestState(s)
		if err != nil {
			return
		}
		if requestState(&ask{mode: mode}, &sessions.Session{ID: id}) != s {
			t.Fatalf("%q parsed to %s %s, which writes back differently", s, mode, id)
		}
	})
}
