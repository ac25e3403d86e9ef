package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits are the validation bounds (docs/api.md, "Limits"). Lengths count
// characters (runes), not bytes.
type Limits struct {
	MaxMessage     int
	MaxOptions     int
	MaxOption      int
	MaxFreeText    int
	MaxMetadata    int // bytes of the JSON object
	MinTimeout     time.Duration
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration

	// Richer questions; zero means the Default… constant of each.
	MaxTitle      int   // characters
	MaxAction     int   // characters
	MaxDetails    int   // bytes of compact JSON
	MaxReason     int   // characters
	MaxImages     int   // per side (question, answer)
	MaxImageBytes int64 // decoded bytes per image
}

// DefaultLimits returns the documented limits with the given timeouts.
func DefaultLimits(defaultTimeout, maxTimeout time.Duration) Limits {
	return Limits{
		MaxMessage:     1000,
		MaxOptions:     10,
		MaxOption:      100,
		MaxFreeText:    1000,
		MaxMetadata:    4096,
		MinTimeout:     30 * time.Second,
		DefaultTimeout: defaultTimeout,
		MaxTimeout:     maxTimeout,
		MaxTitle:       DefaultMaxTitle,
		MaxAction:      DefaultMaxAction,
		MaxDetails:     DefaultMaxDetails,
		MaxReason:      DefaultMaxReason,
		MaxImages:      DefaultMaxImages,
		MaxImageBytes:  DefaultMaxImageBytes,
	}
}

// CreateRequest is what a caller asks for when it creates a session. Timeout
// is in seconds; nil means the default. The package documentation says
// which fields go together.
type CreateRequest struct {
	Message           string          `json:"message"`
	PredefinedOptions []string        `json:"predefinedOptions,omitempty"`
	Timeout           *Number         `json:"timeout,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`

	Title string `json:"title,omitempty"`
	// MultiSelect false makes predefinedOptions a single choice; nil or true
	// lets the person pick several.
	MultiSelect *bool `json:"multiSelect,omitempty"`
	// Fields is a form: an MCP elicitation requestedSchema (ParseFormSchema).
	Fields json.RawMessage `json:"fields,omitempty"`
	// Kind is "question" (the default) or "approval".
	Kind Kind `json:"kind,omitempty"`
	// Action and Details describe what an approval is about.
	Action  string          `json:"action,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
	Images  []ImageInput    `json:"images,omitempty"`
	// Notify false keeps the question off the owner's notification
	// channels (webhooks, chat, push); nil or true notifies.
	Notify *bool `json:"notify,omitempty"`

	// CallRef is stored as Session.CallRef, for the surface that creates the
	// session to find it again: edge/mcp keeps a digest of the tool call, by
	// which the MCP App showing that call finds its session. It is never
	// read from a request body. At most MaxCallRef bytes.
	CallRef string `json:"-"`
}

// MaxCallRef bounds CreateRequest.CallRef.
const MaxCallRef = 128

// SubmitRequest is a person's answer.
type SubmitRequest struct {
	SelectedOptions []string        `json:"selectedOptions,omitempty"`
	FreeText        *string         `json:"freeText,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`

	// Values answers a form: a JSON object keyed by field name.
	Values json.RawMessage `json:"values,omitempty"`
	// Decision and Reason answer an approval.
	Decision Decision     `json:"decision,omitempty"`
	Reason   *string      `json:"reason,omitempty"`
	Images   []ImageInput `json:"images,omitempty"`
}

// ValidateCreate checks r against the limits and returns the timeout to use.
func (l Limits) ValidateCreate(r *CreateRequest) (time.Duration, error) {
	p, err := l.validateCreate(r)
	if err != nil {
		return 0, err
	}
	return p.timeout, nil
}

func (l Limits) validateCreate(r *CreateRequest) (*createPlan, error) {
	if len(r.CallRef) > MaxCallRef {
		// Set by our own code, never by a caller: a defect, not bad input.
		return nil, Errorf(CodeInternal, "callRef is longer than %d bytes", MaxCallRef)
	}
	if err := l.checkMessage(r); err != nil {
		return nil, err
	}
	if len(r.PredefinedOptions) > l.MaxOptions {
		return nil, Invalid("predefinedOptions", fmt.Sprintf("at most %d options are allowed, got %d", l.MaxOptions, len(r.PredefinedOptions)))
	}
	seen := make(map[string]bool, len(r.PredefinedOptions))
	for i, o := range r.PredefinedOptions {
		field := fmt.Sprintf("predefinedOptions[%d]", i)
		if err := checkText(field, o, 1, l.MaxOption); err != nil {
			return nil, err
		}
		if strings.TrimSpace(o) == "" {
			return nil, Invalid(field, "must not be blank")
		}
		if seen[o] {
			return nil, Invalid(field, "duplicate option")
		}
		seen[o] = true
	}
	timeout := l.DefaultTimeout
	if r.Timeout != nil {
		secs, err := r.Timeout.Int64()
		if err != nil {
			return nil, Invalid("timeout", "must be a whole number of seconds")
		}
		minS, maxS := int64(l.MinTimeout/time.Second), int64(l.MaxTimeout/time.Second)
		if secs < minS || secs > maxS {
			return nil, Invalid("timeout", fmt.Sprintf("must be between %d and %d seconds", minS, maxS))
		}
		timeout = time.Duration(secs) * time.Second
	}
	if err := l.checkMetadata("metadata", r.Metadata); err != nil {
		return nil, err
	}
	return l.planCreate(r, timeout)
}

// ValidateSubmit checks an answer against the session it answers.
func (l Limits) ValidateSubmit(r *SubmitRequest, s *Session) error {
	imgs, err := l.decodeImages("images", r.Images)
	if err != nil {
		return err
	}
	_, err = l.validateSubmit(r, s, len(imgs))
	return err
}

// validateSubmit checks an answer whose images, if any, are already
// decoded, and returns the Feedback it makes, without combinedFeedback.
func (l Limits) validateSubmit(r *SubmitRequest, s *Session, images int) (*Feedback, error) {
	fb, err := l.checkAnswer(r, s, images)
	if err != nil {
		return nil, err
	}
	allowed := make(map[string]bool, len(s.PredefinedOptions))
	for _, o := range s.PredefinedOptions {
		allowed[o] = true
	}
	seen := make(map[string]bool, len(r.SelectedOptions))
	for i, o := range r.SelectedOptions {
		field := fmt.Sprintf("selectedOptions[%d]", i)
		if !utf8.ValidString(o) {
			return nil, Invalid(field, "must be valid UTF-8")
		}
		if !allowed[o] {
			return nil, Invalid(field, "is not one of the session's options")
		}
		if seen[o] {
			return nil, Invalid(field, "selected twice")
		}
		seen[o] = true
	}
	if err := l.checkMetadata("metadata", r.Metadata); err != nil {
		return nil, err
	}
	return fb, nil
}

func (l Limits) checkMetadata(field string, m json.RawMessage) error {
	if len(m) == 0 || bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		return nil
	}
	if len(m) > l.MaxMetadata {
		return Invalid(field, fmt.Sprintf("must be at most %d bytes of JSON", l.MaxMetadata))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m, &obj); err != nil {
		return Invalid(field, "must be a JSON object")
	}
	return nil
}

func checkText(field, s string, minRunes, maxRunes int) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < minRunes {
		return Invalid(field, "is required")
	}
	if n > maxRunes {
		return Invalid(field, fmt.Sprintf("must be at most %d characters, got %d", maxRunes, n))
	}
	for _, r := range s {
		if r == 0 || (unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') {
			return Invalid(field, "must not contain control characters")
		}
	}
	return nil
}
