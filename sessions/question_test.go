package sessions_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

var limits = sessions.DefaultLimits(300*time.Second, 3600*time.Second)

func ptr[T any](v T) *T { return &v }

const smallForm = `{"type":"object","properties":{"n":{"type":"integer","title":"Count"}},"required":["n"]}`

func TestCreateCombinations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   sessions.CreateRequest
		field string // "" = valid
	}{
		{"seed style", sessions.CreateRequest{Message: "q", PredefinedOptions: []string{"a", "b"}}, ""},
		{"titled", sessions.CreateRequest{Message: "q", Title: "Deploy to prod?"}, ""},
		{"title 200 characters", sessions.CreateRequest{Message: "q", Title: strings.Repeat("题", 200)}, ""},
		{"title 201 characters", sessions.CreateRequest{Message: "q", Title: strings.Repeat("题", 201)}, "title"},
		{"blank title", sessions.CreateRequest{Message: "q", Title: "   "}, "title"},
		{"title with newline", sessions.CreateRequest{Message: "q", Title: "a\nb"}, "title"},
		{"single select", sessions.CreateRequest{Message: "q", PredefinedOptions: []string{"a", "b"}, MultiSelect: ptr(false)}, ""},
		{"multiSelect without options is ignored", sessions.CreateRequest{Message: "q", MultiSelect: ptr(false)}, ""},
		{"form", sessions.CreateRequest{Message: "q", Fields: json.RawMessage(smallForm)}, ""},
		{"form with free text allowed", sessions.CreateRequest{Message: "q", Fields: json.RawMessage(smallForm), Kind: sessions.KindQuestion}, ""},
		{"form null is no form", sessions.CreateRequest{Message: "q", Fields: json.RawMessage(`null`)}, ""},
		{"form and options", sessions.CreateRequest{Message: "q", PredefinedOptions: []string{"a"}, Fields: json.RawMessage(smallForm)}, "fields"},
		{"bad form", sessions.CreateRequest{Message: "q", Fields: json.RawMessage(`{"type":"object","properties":{"a":{"type":"object"}}}`)}, "fields.properties.a.type"},
		{"form not an object", sessions.CreateRequest{Message: "q", Fields: json.RawMessage(`[1]`)}, "fields"},
		{"question needs a message", sessions.CreateRequest{Fields: json.RawMessage(smallForm)}, "message"},
		{"unknown kind", sessions.CreateRequest{Message: "q", Kind: "poll"}, "kind"},
		{"action on a question", sessions.CreateRequest{Message: "q", Action: "x"}, "action"},
		{"details on a question", sessions.CreateRequest{Message: "q", Details: json.RawMessage(`{}`)}, "details"},
		{"approval", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "Run Bash", Details: json.RawMessage(`{"command":"ls"}`)}, ""},
		{"approval with message and images of none", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "Run Bash", Message: "The agent asks"}, ""},
		{"approval details any JSON", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", Details: json.RawMessage(`"just text"`)}, ""},
		{"approval without action", sessions.CreateRequest{Kind: sessions.KindApproval}, "action"},
		{"approval blank action", sessions.CreateRequest{Kind: sessions.KindApproval, Action: " "}, "action"},
		{"approval action 201", sessions.CreateRequest{Kind: sessions.KindApproval, Action: strings.Repeat("a", 201)}, "action"},
		{"approval with options", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", PredefinedOptions: []string{"x"}}, "predefinedOptions"},
		{"approval with fields", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", Fields: json.RawMessage(smallForm)}, "fields"},
		{"approval with multiSelect", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", MultiSelect: ptr(true)}, "multiSelect"},
		{"approval details too big", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", Details: json.RawMessage(`"` + strings.Repeat("x", 32<<10) + `"`)}, "details"},
		{"approval details compacted first", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "a", Details: json.RawMessage(`{"k":` + strings.Repeat(" ", 40<<10) + `1}`)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := limits.ValidateCreate(&tc.req)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest || e.Field != tc.field {
				t.Fatalf("err = %v, want INVALID_REQUEST on %q", err, tc.field)
			}
		})
	}
}

func TestSubmitCombinations(t *testing.T) {
	form := mustParse(t, smallForm)
	seed := &sessions.Session{PredefinedOptions: []string{"yes", "no"}}
	single := &sessions.Session{PredefinedOptions: []string{"yes", "no"}, SingleSelect: true}
	withForm := &sessions.Session{Fields: form}
	approval := &sessions.Session{Approval: &sessions.Approval{Action: "Run"}}
	for _, tc := range []struct {
		name  string
		sess  *sessions.Session
		req   sessions.SubmitRequest
		field string
	}{
		{"single select one", single, sessions.SubmitRequest{SelectedOptions: []string{"no"}}, ""},
		{"single select two", single, sessions.SubmitRequest{SelectedOptions: []string{"no", "yes"}}, "selectedOptions"},
		{"multi select two", seed, sessions.SubmitRequest{SelectedOptions: []string{"no", "yes"}}, ""},
		{"values on a plain question", seed, sessions.SubmitRequest{FreeText: ptr("x"), Values: json.RawMessage(`{"n":1}`)}, "values"},
		{"decision on a question", seed, sessions.SubmitRequest{SelectedOptions: []string{"yes"}, Decision: sessions.DecisionApprove}, "decision"},
		{"reason on a question", seed, sessions.SubmitRequest{SelectedOptions: []string{"yes"}, Reason: ptr("r")}, "reason"},
		{"form answered", withForm, sessions.SubmitRequest{Values: json.RawMessage(`{"n":2}`)}, ""},
		{"form answered with a note", withForm, sessions.SubmitRequest{Values: json.RawMessage(`{"n":2}`), FreeText: ptr("note")}, ""},
		{"form without values", withForm, sessions.SubmitRequest{FreeText: ptr("note")}, "values"},
		{"form with null values", withForm, sessions.SubmitRequest{Values: json.RawMessage(`null`)}, "values"},
		{"form with a bad value", withForm, sessions.SubmitRequest{Values: json.RawMessage(`{"n":"2"}`)}, "values.n"},
		{"form with options", withForm, sessions.SubmitRequest{Values: json.RawMessage(`{"n":2}`), SelectedOptions: []string{"yes"}}, "selectedOptions[0]"},
		{"approve", approval, sessions.SubmitRequest{Decision: sessions.DecisionApprove}, ""},
		{"deny with reason", approval, sessions.SubmitRequest{Decision: sessions.DecisionDeny, Reason: ptr("too risky")}, ""},
		{"no decision", approval, sessions.SubmitRequest{Reason: ptr("hmm")}, "decision"},
		{"bad decision", approval, sessions.SubmitRequest{Decision: "maybe"}, "decision"},
		{"reason too long", approval, sessions.SubmitRequest{Decision: sessions.DecisionDeny, Reason: ptr(strings.Repeat("r", 1001))}, "reason"},
		{"options on an approval", approval, sessions.SubmitRequest{Decision: sessions.DecisionApprove, SelectedOptions: []string{"yes"}}, "selectedOptions"},
		{"values on an approval", approval, sessions.SubmitRequest{Decision: sessions.DecisionApprove, Values: json.RawMessage(`{}`)}, "values"},
		{"free text on an approval", approval, sessions.SubmitRequest{Decision: sessions.DecisionApprove, FreeText: ptr("x")}, "freeText"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := limits.ValidateSubmit(&tc.req, tc.sess)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest || e.Field != tc.field {
				t.Fatalf("err = %v, want INVALID_REQUEST on %q", err, tc.field)
			}
		})
	}
}

func TestRenderFeedback(t *testing.T) {
	form := mustParse(t, everyType)
	vals, err := form.ValidateValues(json.RawMessage(`{"name":"Ada","age":36,"agree":true,"color":"g","tags":["x","z"]}`))
	if err != nil {
		t.Fatal(err)
	}
	seed := &sessions.Session{PredefinedOptions: []string{"a", "b"}}
	withForm := &sessions.Session{Fields: form}
	approval := &sessions.Session{Approval: &sessions.Approval{Action: "Run"}}
	img := make([]sessions.Image, 2)
	for _, tc := range []struct {
		name   string
		sess   *sessions.Session
		fb     sessions.Feedback
		images int
		want   string
	}{
		{"options and text", seed, sessions.Feedback{SelectedOptions: []string{"a", "b"}, FreeText: "  note \n"}, 0, "a\nb\n\nnote"},
		{"options only", seed, sessions.Feedback{SelectedOptions: []string{"a"}}, 0, "a"},
		{"text only", seed, sessions.Feedback{FreeText: " text "}, 0, "text"},
		{"blank text", seed, sessions.Feedback{FreeText: "  "}, 0, ""},
		{"CJK", seed, sessions.Feedback{SelectedOptions: []string{"选项"}, FreeText: "文字🙂"}, 0, "选项\n\n文字🙂"},
		{"one image", seed, sessions.Feedback{FreeText: "see"}, 1, "see\n\n[1 image attached]"},
		{"images only", seed, sessions.Feedback{Images: img}, 2, "[2 images attached]"},
		{"form", withForm, sessions.Feedback{Values: vals}, 0, "Name: Ada\nAge: 36\nI agree: yes\nColour: Green (g)\ntags: x, z"},
		{"form, note, images", withForm, sessions.Feedback{Values: vals, FreeText: " ok "}, 3,
			"Name: Ada\nAge: 36\nI agree: yes\nColour: Green (g)\ntags: x, z\n\nok\n\n[3 images attached]"},
		{"approved", approval, sessions.Feedback{Decision: sessions.DecisionApprove}, 0, "Approved."},
		{"approved with reason", approval, sessions.Feedback{Decision: sessions.DecisionApprove, Reason: " fine "}, 0, "Approved: fine"},
		{"denied", approval, sessions.Feedback{Decision: sessions.DecisionDeny}, 0, "Denied."},
		{"denied with reason", approval, sessions.Feedback{Decision: sessions.DecisionDeny, Reason: "too risky"}, 0, "Denied: too risky"},
		{"denied with image", approval, sessions.Feedback{Decision: sessions.DecisionDeny, Reason: "see"}, 1, "Denied: see\n\n[1 image attached]"},
	} {
		if got := sessions.RenderFeedback(tc.sess, &tc.fb, tc.images); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if tc.sess == seed && tc.images == 0 {
			if old := sessions.CombineFeedback(tc.fb.SelectedOptions, tc.fb.FreeText); old != tc.want {
				t.Errorf("%s: differs from CombineFeedback %q", tc.name, old)
			}
		}
	}
}

// Records written before richer questions existed have none of the new
// fields and must keep their meaning: multi-select questions.
func TestRecordsFromBeforeKeepTheirMeaning(t *testing.T) {
	old := `{"sessionId":"5e16ed4d-e404-4882-876e-af768f85ae7c","owner":"a","message":"Ship it?",
		"predefinedOptions":["yes","no"],"timeout":300,"status":"pending",
		"createdAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:05:00Z"}`
	var s sessions.Session
	if err := json.Unmarshal([]byte(old), &s); err != nil {
		t.Fatal(err)
	}
	if !s.MultiSelect() || s.Kind() != sessions.KindQuestion || s.Fields != nil || s.Title != "" {
		t.Fatalf("old record read as %+v", s)
	}
	if err := limits.ValidateSubmit(&sessions.SubmitRequest{SelectedOptions: []string{"yes", "no"}}, &s); err != nil {
		t.Fatal(err)
	}
	// And a new single-select record says so in one optional key.
	s.SingleSelect = true
	b, _ := json.Marshal(&s)
	if !strings.Contains(string(b), `"singleSelect":true`) || strings.Contains(string(b), "multiSelect") {
		t.Fatalf("record %s", b)
	}
}

func TestCloneCopiesTheNewParts(t *testing.T) {
	s := &sessions.Session{
		Images:   []sessions.Image{{ID: "a"}},
		Approval: &sessions.Approval{Action: "x", Details: json.RawMessage(`{"k":1}`)},
		Feedback: &sessions.Feedback{Values: sessions.Values{"n": json.RawMessage(`1`)}, Images: []sessions.Image{{ID: "b"}}},
	}
	c := s.Clone()
	c.Images[0].ID = "changed"
	c.Approval.Action = "changed"
	c.Approval.Details[2] = 'X'
	c.Feedback.Values["n"] = json.RawMessage(`2`)
	c.Feedback.Images[0].ID = "changed"
	if s.Images[0].ID != "a" || s.Approval.Action != "x" || string(s.Approval.Details) != `{"k":1}` ||
		string(s.Feedback.Values["n"]) != "1" || s.Feedback.Images[0].ID != "b" {
		t.Fatalf("Clone shares memory: %+v", s)
	}
}
