package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind is what a session asks for.
type Kind string

// The kinds of session.
const (
	// KindQuestion is a message with options, a form and/or free text.
	KindQuestion Kind = "question"
	// KindApproval asks to approve or deny an action.
	KindApproval Kind = "approval"
)

// Decision is the answer to an approval.
type Decision string

// The decisions of an approval.
const (
	DecisionApprove Decision = "approve"
	DecisionDeny    Decision = "deny"
)

// Approval is what an approval session asks about.
type Approval struct {
	// Action is a short title of what is to be done, such as "Run Bash".
	Action string `json:"action"`
	// Details is any JSON the person should see to decide, such as a tool
	// call's input; nil if none.
	Details json.RawMessage `json:"details,omitempty"`
}

// The defaults of the limits added with richer questions. A zero field of
// Limits means its default, so a Limits written before these existed keeps
// working.
const (
	DefaultMaxTitle      = 200
	DefaultMaxAction     = 200
	DefaultMaxDetails    = 32 << 10 // bytes of compact JSON
	DefaultMaxReason     = 1000
	DefaultMaxImages     = 4       // per side: the question's, the answer's
	DefaultMaxImageBytes = 5 << 20 // decoded bytes per image
)

func orDefault[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (l Limits) imageLimits() (int, int64) {
	return orDefault(l.MaxImages, DefaultMaxImages), orDefault(l.MaxImageBytes, DefaultMaxImageBytes)
}

// createPlan is a CreateRequest that passed validation, with everything
// parsed that the session needs.
type createPlan struct {
	timeout  time.Duration
	single   bool
	fields   *FormSchema
	approval *Approval
	images   []decodedImage
}

// planCreate validates the parts of a CreateRequest beyond message, options,
// timeout and metadata: title, kind, multiSelect, fields, approval and
// images. The rules of combination are in the package documentation.
func (l Limits) planCreate(r *CreateRequest, timeout time.Duration) (*createPlan, error) {
	p := &createPlan{timeout: timeout}
	if r.Title != "" {
		if err := checkLine("title", r.Title, 1, orDefault(l.MaxTitle, DefaultMaxTitle)); err != nil {
			return nil, err
		}
		if strings.TrimSpace(r.Title) == "" {
			return nil, Invalid("title", "must not be blank")
		}
	}
	hasFields := len(r.Fields) > 0 && !isNull(r.Fields)
	switch r.Kind {
	case "", KindQuestion:
		if r.Action != "" {
			return nil, Invalid("action", `applies only to kind "approval"`)
		}
		if len(r.Details) > 0 && !isNull(r.Details) {
			return nil, Invalid("details", `applies only to kind "approval"`)
		}
		if hasFields && len(r.PredefinedOptions) > 0 {
			return nil, Invalid("fields", "give predefinedOptions or fields, not both: a form offers choices with an enum field")
		}
		if hasFields {
			f, err := ParseFormSchema(r.Fields)
			if err != nil {
				return nil, err
			}
			p.fields = f
		}
		p.single = r.MultiSelect != nil && !*r.MultiSelect && len(r.PredefinedOptions) > 0
	case KindApproval:
		switch {
		case len(r.PredefinedOptions) > 0:
			return nil, Invalid("predefinedOptions", "an approval takes no options: the answer is approve or deny")
		case hasFields:
			return nil, Invalid("fields", "an approval takes no fields: the answer is approve or deny")
		case r.MultiSelect != nil:
			return nil, Invalid("multiSelect", "an approval takes no options")
		}
		if err := checkLine("action", r.Action, 1, orDefault(l.MaxAction, DefaultMaxAction)); err != nil {
			return nil, err
		}
		if strings.TrimSpace(r.Action) == "" {
			return nil, Invalid("action", "must not be blank")
		}
		a := &Approval{Action: r.Action}
		if len(r.Details) > 0 && !isNull(r.Details) {
			var b bytes.Buffer
			if err := json.Compact(&b, r.Details); err != nil {
				return nil, Invalid("details", "must be valid JSON")
			}
			if maxD := orDefault(l.MaxDetails, DefaultMaxDetails); b.Len() > maxD {
				return nil, Invalid("details", fmt.Sprintf("must be at most %d bytes of JSON, got %d", maxD, b.Len()))
			}
			a.Details = b.Bytes()
		}
		p.approval = a
	default:
		return nil, Invalid("kind", `must be "question" or "approval"`)
	}
	imgs, err := l.decodeImages("images", r.Images)
	if err != nil {
		return nil, err
	}
	p.images = imgs
	return p, nil
}

// checkMessage applies the message rules: required for a question,
// optional for an approval (its action is the heading).
func (l Limits) checkMessage(r *CreateRequest) error {
	if r.Kind == KindApproval && r.Message == "" {
		return nil
	}
	if err := checkText("message", r.Message, 1, l.MaxMessage); err != nil {
		return err
	}
	if strings.TrimSpace(r.Message) == "" {
		return Invalid("message", "must not be blank")
	}
	return nil
}

// apply sets what the plan adds to a pending session; the caller sets the
// rest, and the image references once the images are stored.
func (p *createPlan) apply(s *Session, r *CreateRequest) {
	s.Title = r.Title
	s.SingleSelect = p.single
	s.Fields = p.fields
	s.Approval = p.approval
}

// checkAnswer validates the parts of an answer that depend on what the
// session asks (its kind, options, form) and builds the Feedback. images is
// how many images the answer carries; they are checked before this.
func (l Limits) checkAnswer(r *SubmitRequest, s *Session, images int) (*Feedback, error) {
	if r.FreeText != nil {
		if err := checkText("freeText", *r.FreeText, 0, l.MaxFreeText); err != nil {
			return nil, err
		}
	}
	fb := &Feedback{SelectedOptions: r.SelectedOptions, Metadata: normalizeJSON(r.Metadata)}
	if r.FreeText != nil {
		fb.FreeText = *r.FreeText
	}
	hasValues := len(r.Values) > 0 && !isNull(r.Values)
	if s.Approval != nil {
		switch {
		case len(r.SelectedOptions) > 0:
			return nil, Invalid("selectedOptions", "an approval takes a decision, not options")
		case hasValues:
			return nil, Invalid("values", "an approval takes a decision, not values")
		case strings.TrimSpace(fb.FreeText) != "":
			return nil, Invalid("freeText", "an approval takes a reason, not free text")
		}
		switch r.Decision {
		case DecisionApprove, DecisionDeny:
		case "":
			return nil, Invalid("decision", `is required: "approve" or "deny"`)
		default:
			return nil, Invalid("decision", `must be "approve" or "deny"`)
		}
		fb.FreeText = ""
		fb.Decision = r.Decision
		if r.Reason != nil {
			if err := checkText("reason", *r.Reason, 0, orDefault(l.MaxReason, DefaultMaxReason)); err != nil {
				return nil, err
			}
			fb.Reason = *r.Reason
		}
		return fb, nil
	}
	if r.Decision != "" {
		return nil, Invalid("decision", "applies only to an approval")
	}
	if r.Reason != nil {
		return nil, Invalid("reason", "applies only to an approval; send freeText")
	}
	if s.Fields != nil {
		if !hasValues {
			return nil, Invalid("values", "is required: this question is a form")
		}
		v, err := s.Fields.ValidateValues(r.Values)
		if err != nil {
			return nil, err
		}
		fb.Values = v
	} else if hasValues {
		return nil, Invalid("values", "this question has no fields")
	}
	hasText := strings.TrimSpace(fb.FreeText) != ""
	if s.Fields == nil && len(r.SelectedOptions) == 0 && !hasText && images == 0 {
		return nil, Invalid("selectedOptions", "give selectedOptions, freeText or images")
	}
	if !s.MultiSelect() && len(r.SelectedOptions) > 1 {
		return nil, Invalid("selectedOptions", fmt.Sprintf("this question takes one option, got %d", len(r.SelectedOptions)))
	}
	return fb, nil
}

// RenderFeedback builds combinedFeedback, the answer as text for an agent
// that reads only text. For a question: the selected options one per line,
// then the form's answers as "Label: value" lines in the form's order, then
// the trimmed free text, each part separated by a blank line; for an
// approval "Approved." or "Denied." (with ": <reason>" instead of the full
// stop when there is a reason). A line "[n image(s) attached]" follows when
// the answer carries images. A seed-style answer (options and free text)
// renders exactly as CombineFeedback.
func RenderFeedback(s *Session, f *Feedback, images int) string {
	var parts []string
	if s.Approval != nil {
		word := "Approved"
		if f.Decision == DecisionDeny {
			word = "Denied"
		}
		if reason := strings.TrimSpace(f.Reason); reason != "" {
			parts = append(parts, word+": "+reason)
		} else {
			parts = append(parts, word+".")
		}
	} else {
		var values string
		if s.Fields != nil {
			values = s.Fields.Describe(f.Values)
		}
		for _, p := range []string{strings.Join(f.SelectedOptions, "\n"), values, strings.TrimSpace(f.FreeText)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
	}
	switch {
	case images == 1:
		parts = append(parts, "[1 image attached]")
	case images > 1:
		parts = append(parts, fmt.Sprintf("[%d images attached]", images))
	}
	return strings.Join(parts, "\n\n")
}
