package client

import (
	"encoding/json"
	"math"
	"time"
)

// The types below mirror the JSON of the REST API (docs/api.md, "REST API"
// and the OpenAPI document every edge serves at /openapi.json). The server
// may add fields to its answers; unknown ones are ignored here, and Raw keeps
// an answer as it was sent.

// Status is where a session stands. It leaves StatusPending exactly once.
type Status string

// The statuses of a session.
const (
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
	StatusExpired   Status = "expired"
	StatusCancelled Status = "cancelled"
)

// Final reports whether the session has stopped changing.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusExpired || s == StatusCancelled
}

// Kind is what a session asks for.
type Kind string

// The kinds of session.
const (
	// KindQuestion is a message with options, a form and/or free text (the
	// default).
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

// Question is what Create asks. Message is required for a question; an
// approval (Kind KindApproval) needs Action instead. A question offers at
// most one of Options and Fields besides free text. The server checks every
// limit and combination and answers ErrInvalid naming the field at fault.
type Question struct {
	// Message is the question, Markdown (1–1000 characters).
	Message string
	// Title is an optional one-line heading (at most 200 characters).
	Title string
	// Options are choices (predefinedOptions: at most 10, 1–100 characters
	// each, no two alike). The person may pick several unless SingleChoice.
	Options []string
	// SingleChoice makes Options a single choice (radio buttons): the
	// answer carries at most one option (multiSelect false).
	SingleChoice bool
	// Fields is a typed form (an MCP elicitation requestedSchema).
	Fields *Form
	// Kind is KindQuestion (the default when empty) or KindApproval.
	Kind Kind
	// Action is what an approval is about, a short title ("Run Bash").
	Action string
	// Details is any JSON-encodable value the person should see to decide
	// an approval, such as a tool call's input. A json.RawMessage is sent as
	// it is.
	Details any
	// Images are shown with the question (at most 4 by default).
	Images []Image
	// Timeout is how long the question stays open, in whole seconds (it is
	// rounded); zero means the server's default.
	Timeout time.Duration
	// Metadata is any JSON object kept with the session (at most 4 KiB).
	Metadata any
}

// MarshalJSON writes the create request of docs/api.md.
func (q Question) MarshalJSON() ([]byte, error) {
	type wire struct {
		Message           string   `json:"message,omitempty"`
		Title             string   `json:"title,omitempty"`
		PredefinedOptions []string `json:"predefinedOptions,omitempty"`
		MultiSelect       *bool    `json:"multiSelect,omitempty"`
		Fields            *Form    `json:"fields,omitempty"`
		Kind              Kind     `json:"kind,omitempty"`
		Action            string   `json:"action,omitempty"`
		Details           any      `json:"details,omitempty"`
		Images            []Image  `json:"images,omitempty"`
		Timeout           int64    `json:"timeout,omitempty"`
		Metadata          any      `json:"metadata,omitempty"`
	}
	w := wire{
		Message: q.Message, Title: q.Title, PredefinedOptions: q.Options, Fields: q.Fields,
		Kind: q.Kind, Action: q.Action, Details: q.Details, Images: q.Images, Metadata: q.Metadata,
	}
	if q.SingleChoice {
		w.MultiSelect = new(false)
	}
	if q.Timeout > 0 {
		w.Timeout = int64(math.Round(q.Timeout.Seconds()))
	}
	return json.Marshal(w)
}

// Image is an image sent with a question or an answer: its bytes (sent as
// base64), and optionally its type and a file name. The server identifies
// the type from the bytes (PNG, JPEG, WebP or GIF; nothing else) and
// refuses a MimeType that names another type.
type Image struct {
	Data     []byte `json:"data"`
	MimeType string `json:"mimeType,omitempty"`
	Name     string `json:"name,omitempty"`
}

// ImageRef is a stored image as a session describes it; download its bytes
// with Client.Image.
type ImageRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	// URL is where the owner downloads it, when the server says.
	URL string `json:"url,omitempty"`
}

// Created is what Create returns: where the person answers, and until when.
type Created struct {
	SessionID string `json:"sessionId"`
	// FeedbackURL is the page the person answers on; whoever holds it can
	// answer, so share it only with them.
	FeedbackURL string    `json:"feedbackUrl"`
	StatusURL   string    `json:"statusUrl"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// Asked is what a session asks, as its owner created it: the kind, the
// title, the message, the options (MultiSelect is set with options only),
// the form, an approval's action and details, the question's images, and
// the metadata given at create. Fields the server does not report are
// zero.
type Asked struct {
	Kind        Kind            `json:"kind,omitempty"`
	Title       string          `json:"title,omitempty"`
	Message     string          `json:"message,omitempty"`
	Options     []string        `json:"predefinedOptions,omitempty"`
	MultiSelect *bool           `json:"multiSelect,omitempty"`
	Fields      *Form           `json:"fields,omitempty"`
	Action      string          `json:"action,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
	Images      []ImageRef      `json:"images,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
}

// Session is a session as its owner sees it: from Status (with the whole
// question) and from List (with a summary of it: kind, title, message,
// action, metadata).
type Session struct {
	ID          string     `json:"sessionId"`
	Status      Status     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	SubmittedAt *time.Time `json:"submittedAt,omitempty"`
	// CancelReason says why a cancelled session was cancelled, when the
	// cancel said: "declined by the person" (declined inside an MCP
	// client), "withdrawn by the agent", and so on.
	CancelReason string `json:"cancelReason,omitempty"`
	// Asked is what the session asks.
	Asked

	// Raw is the session's JSON as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON reads a session, whether the server puts the question in a
// "question" object (status) or beside the status (list items), and keeps
// the JSON in Raw.
func (s *Session) UnmarshalJSON(b []byte) error {
	// plain is Session without this method; its embedded Asked reads a
	// question that sits beside the status, Question one in its own object.
	type plain Session
	var w struct {
		plain
		Question *Asked `json:"question"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Session(w.plain)
	if w.Question != nil {
		s.Asked = *w.Question
	}
	s.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Heading is what a person would read first: the title, else the action of
// an approval, else the message.
func (s *Asked) Heading() string {
	switch {
	case s.Title != "":
		return s.Title
	case s.Action != "":
		return s.Action
	}
	return s.Message
}

// Feedback is the person's answer.
type Feedback struct {
	// SelectedOptions are the options chosen, in the order offered.
	SelectedOptions []string `json:"selectedOptions,omitempty"`
	// FreeText is what the person wrote.
	FreeText string `json:"freeText,omitempty"`
	// CombinedFeedback is the whole answer as readable text: the options,
	// the form's values, the decision, the free text.
	CombinedFeedback string `json:"combinedFeedback"`
	// Values answer a form, keyed by field name (numbers as float64).
	Values map[string]any `json:"values,omitempty"`
	// Decision and Reason answer an approval.
	Decision Decision `json:"decision,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	// Images the person attached.
	Images []ImageRef `json:"images,omitempty"`
}

// Chose reports whether option was among the selected options.
func (f *Feedback) Chose(option string) bool {
	for _, o := range f.SelectedOptions {
		if o == option {
			return true
		}
	}
	return false
}

// Result is the answer to a session: what Result and Wait return.
type Result struct {
	SessionID   string    `json:"sessionId"`
	Feedback    Feedback  `json:"feedback"`
	SubmittedAt time.Time `json:"submittedAt"`
	// Metadata is the metadata sent with the answer, nil if none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Question is what the session asked, when the server reports it.
	Question *Asked `json:"question,omitempty"`

	// Raw is the result's JSON as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON reads a result and keeps its JSON in Raw.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Result(p)
	r.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Answer is a person's answer, for Submit: what the feedback page sends.
// It must match what the session asks: options and/or free text to a
// question with options, Values to a form, a Decision to an approval.
type Answer struct {
	SelectedOptions []string       `json:"selectedOptions,omitempty"`
	FreeText        string         `json:"freeText,omitempty"`
	Values          map[string]any `json:"values,omitempty"`
	Decision        Decision       `json:"decision,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	Images          []Image        `json:"images,omitempty"`
	// Metadata is any JSON object kept with the answer (at most 4 KiB).
	Metadata any `json:"metadata,omitempty"`
}

// Submitted is what Submit returns.
type Submitted struct {
	SessionID   string    `json:"sessionId"`
	Status      Status    `json:"status"`
	SubmittedAt time.Time `json:"submittedAt"`
}

// ImageFile is an image's bytes as Client.Image downloads them.
type ImageFile struct {
	// Name is the file name the server gives (Content-Disposition), if any.
	Name string
	// MimeType is the type the server sniffed from the bytes.
	MimeType string
	Data     []byte
}

// ListOptions narrow List.
type ListOptions struct {
	// Status keeps only sessions with this status; empty means all.
	Status Status
	// PageSize is how many sessions each request fetches (1–100); zero
	// means the server's default (20).
	PageSize int
}
