package webpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/pkg/timeleft"
)

// MaxPayload is the most bytes of payload Send takes: a push service takes
// 4096 bytes of encrypted body, of which the encryption header and tag use
// 103, and a margin keeps clear of services that count differently.
const MaxPayload = 3072

// MessageType says what a push asks the service worker to do.
type MessageType string

// The message types the service worker understands.
const (
	// TypeQuestion: show a notification for a new question.
	TypeQuestion MessageType = "question"
	// TypeClose: close the notification of a session that ended.
	TypeClose MessageType = "close"
)

// Message is the JSON payload of every push, the contract with the inbox's
// service worker (see the package doc).
type Message struct {
	Type      MessageType `json:"type"`
	SessionID string      `json:"sessionId"`
	// Tag is the notification's tag, "feedbackd-<sessionId>": a later
	// notification with the same tag replaces it, and close finds it.
	Tag string `json:"tag"`
	// Title, Body and URL are set for question: the notification's title
	// and text, and the page a click opens.
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	URL   string `json:"url,omitempty"`
	// ExpiresAt, for question, is when the question times out.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Status, for close, is how the session ended: completed, expired or
	// cancelled.
	Status string `json:"status,omitempty"`
}

// Question is what QuestionMessage needs of a session.
type Question struct {
	SessionID string
	Title     string
	Message   string
	URL       string
	ExpiresAt time.Time
}

// QuestionMessage builds the push for a new question: its title (or a
// generic one), the first line of its message and the time left at now,
// and the link.
func QuestionMessage(q Question, now time.Time) Message {
	title := strings.TrimSpace(q.Title)
	if title == "" {
		title = "An agent is asking you"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(q.Message), "\n")
	body := strings.TrimSpace(first) + "\n⏳ " + timeleft.Until(q.ExpiresAt, now)
	exp := q.ExpiresAt.UTC()
	return Message{
		Type: TypeQuestion, SessionID: q.SessionID, Tag: tag(q.SessionID),
		Title: title, Body: body, URL: q.URL, ExpiresAt: &exp,
	}
}

// CloseMessage builds the push that closes the notification of a session
// that ended with status (completed, expired or cancelled).
func CloseMessage(sessionID, status string) Message {
	return Message{Type: TypeClose, SessionID: sessionID, Tag: tag(sessionID), Status: status}
}

func tag(sessionID string) string { return "feedbackd-" + sessionID }

// Options returns the push options that suit m at now: a question lives
// until it expires and wakes the device at once; a close may wait and lives a
// day, so that a device that was away still clears the notification. Both
// share the session's topic, so a close replaces an undelivered question.
// ok is false for a question that has already expired: do not send it.
func (m Message) Options(now time.Time) (opts Options, ok bool) {
	if m.Type == TypeQuestion {
		if m.ExpiresAt == nil || !m.ExpiresAt.After(now) {
			return Options{}, false
		}
		return Options{TTL: m.ExpiresAt.Sub(now).Truncate(time.Second), Urgency: UrgencyHigh, Topic: Topic(m.SessionID)}, true
	}
	return Options{TTL: 24 * time.Hour, Urgency: UrgencyNormal, Topic: Topic(m.SessionID)}, true
}

// Topic derives the RFC 8030 topic of a session: 32 characters of base64url
// of its SHA-256, since a session id may be longer than a topic can be.
func Topic(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

// Encode checks m and returns its JSON, shortening the body and then the
// title so that it fits MaxPayload.
func (m Message) Encode() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	m.Title = strings.ToValidUTF8(m.Title, "\uFFFD")
	m.Body = strings.ToValidUTF8(m.Body, "\uFFFD")
	for {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode push message: %w", err)
		}
		over := len(b) - MaxPayload
		if over <= 0 {
			return b, nil
		}
		// An escaped byte takes up to 6 bytes of JSON: dropping a sixth
		// of the excess in raw bytes never cuts more than needed, and the
		// excess shrinks by at least that much each round.
		cut := max(over/6, 1)
		switch {
		case m.Body != "":
			m.Body = shorten(m.Body, cut)
		case m.Title != "":
			m.Title = shorten(m.Title, cut)
		default:
			return nil, fmt.Errorf("%w: push message does not fit %d bytes", ErrInvalid, MaxPayload)
		}
	}
}

// shorten drops at least n bytes from the end of s (not counting a trailing
// ellipsis, which it keeps), between runes.
func shorten(s string, n int) string {
	s = strings.TrimSuffix(s, "…")
	cut := len(s) - n
	if cut <= 0 {
		return ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (m Message) validate() error {
	if !validSessionID(m.SessionID) {
		return fmt.Errorf("%w: push message needs a session id of 1-128 characters of A-Z a-z 0-9 _ -", ErrInvalid)
	}
	if m.Tag != tag(m.SessionID) {
		return fmt.Errorf("%w: push message tag must be %q", ErrInvalid, tag(m.SessionID))
	}
	switch m.Type {
	case TypeQuestion:
		if m.Title == "" {
			return fmt.Errorf("%w: a question push needs a title", ErrInvalid)
		}
		if u, err := url.Parse(m.URL); err != nil || len(m.URL) > 1024 || !utf8.ValidString(m.URL) ||
			(u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: a question push needs an absolute http(s) link of at most 1024 bytes", ErrInvalid)
		}
	case TypeClose:
		switch m.Status {
		case "completed", "expired", "cancelled":
		default:
			return fmt.Errorf("%w: a close push needs status completed, expired or cancelled", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: push message type %q", ErrInvalid, m.Type)
	}
	return nil
}

func validSessionID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DecodeMessage reads a payload as the service worker does and checks it:
// the inverse of Encode, for tests and for anything that relays pushes.
func DecodeMessage(b []byte) (Message, error) {
	if len(b) > MaxPayload {
		return Message{}, fmt.Errorf("%w: payload of %d bytes, at most %d", ErrInvalid, len(b), MaxPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: push message: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Message{}, fmt.Errorf("%w: data after the push message", ErrInvalid)
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}
