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

// Limits are the validation bounds of SPEC §4. Lengths count characters
// (runes), not bytes.
type Limits struct {
	MaxMessage     int
	MaxOptions     int
	MaxOption      int
	MaxFreeText    int
	MaxMetadata    int // bytes of the JSON object
	MinTimeout     time.Duration
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
}

// DefaultLimits returns the limits of SPEC §4 with the given timeouts.
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
	}
}

// CreateRequest is what a caller asks for when it creates a session. Timeout
// is in seconds; nil means the default.
type CreateRequest struct {
	Message           string          `json:"message"`
	PredefinedOptions []string        `json:"predefinedOptions,omitempty"`
	Timeout           *json.Number    `json:"timeout,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	// Notify false keeps the question off the owner's notification
	// channels (webhooks, chat, push); nil or true notifies.
	Notify *bool `json:"notify,omitempty"`
}

// SubmitRequest is a person's answer.
type SubmitRequest struct {
	SelectedOptions []string        `json:"selectedOptions,omitempty"`
	FreeText        *string         `json:"freeText,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
}

// ValidateCreate checks r against the limits and returns the timeout to use.
func (l Limits) ValidateCreate(r *CreateRequest) (time.Duration, error) {
	if err := checkText("message", r.Message, 1, l.MaxMessage); err != nil {
		return 0, err
	}
	if strings.TrimSpace(r.Message) == "" {
		return 0, Invalid("message", "must not be blank")
	}
	if len(r.PredefinedOptions) > l.MaxOptions {
		return 0, Invalid("predefinedOptions", fmt.Sprintf("at most %d options are allowed, got %d", l.MaxOptions, len(r.PredefinedOptions)))
	}
	seen := make(map[string]bool, len(r.PredefinedOptions))
	for i, o := range r.PredefinedOptions {
		field := fmt.Sprintf("predefinedOptions[%d]", i)
		if err := checkText(field, o, 1, l.MaxOption); err != nil {
			return 0, err
		}
		if strings.TrimSpace(o) == "" {
			return 0, Invalid(field, "must not be blank")
		}
		if seen[o] {
			return 0, Invalid(field, "duplicate option")
		}
		seen[o] = true
	}
	timeout := l.DefaultTimeout
	if r.Timeout != nil {
		secs, err := r.Timeout.Int64()
		if err != nil {
			return 0, Invalid("timeout", "must be a whole number of seconds")
		}
		minS, maxS := int64(l.MinTimeout/time.Second), int64(l.MaxTimeout/time.Second)
		if secs < minS || secs > maxS {
			return 0, Invalid("timeout", fmt.Sprintf("must be between %d and %d seconds", minS, maxS))
		}
		timeout = time.Duration(secs) * time.Second
	}
	if err := l.checkMetadata("metadata", r.Metadata); err != nil {
		return 0, err
	}
	return timeout, nil
}

// ValidateSubmit checks an answer against the session it answers.
func (l Limits) ValidateSubmit(r *SubmitRequest, s *Session) error {
	hasText := r.FreeText != nil && strings.TrimSpace(*r.FreeText) != ""
	if len(r.SelectedOptions) == 0 && !hasText {
		return Invalid("selectedOptions", "give selectedOptions, freeText, or both")
	}
	if r.FreeText != nil {
		if err := checkText("freeText", *r.FreeText, 0, l.MaxFreeText); err != nil {
			return err
		}
	}
	allowed := make(map[string]bool, len(s.PredefinedOptions))
	for _, o := range s.PredefinedOptions {
		allowed[o] = true
	}
	seen := make(map[string]bool, len(r.SelectedOptions))
	for i, o := range r.SelectedOptions {
		field := fmt.Sprintf("selectedOptions[%d]", i)
		if !utf8.ValidString(o) {
			return Invalid(field, "must be valid UTF-8")
		}
		if !allowed[o] {
			return Invalid(field, "is not one of the session's options")
		}
		if seen[o] {
			return Invalid(field, "selected twice")
		}
		seen[o] = true
	}
	return l.checkMetadata("metadata", r.Metadata)
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
