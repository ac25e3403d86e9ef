package notifier

import (
	"encoding/json"
	"time"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// The message types of docs/notifier.md, declared once. Every message is a
// JSON object {type, data?, timestamp}.
const (
	// TypeConnectionEstablished is the first message of every connection:
	// the current status of the session (on /ws/{id}) and the revision from
	// which the connection is complete.
	TypeConnectionEstablished = "connection_established"
	// TypeSessionStatusChanged reports the one transition out of pending.
	TypeSessionStatusChanged = "session_status_changed"
	// TypeFeedbackSubmitted follows a status change to completed.
	TypeFeedbackSubmitted = "feedback_submitted"
	// TypeSessionExpired follows a status change to expired.
	TypeSessionExpired = "session_expired"
	// TypeSessionCreated tells a /ws subscriber about a new session of its
	// owner. It is an extension of the original protocol, which had no
	// creation message: without it an app following every session would
	// only learn of a session once it finished.
	TypeSessionCreated = "session_created"
	// TypePing is sent by a client; the server answers TypePong.
	TypePing = "ping"
	// TypePong answers a client's ping.
	TypePong = "pong"
	// TypeError reports a client message the server could not handle; the
	// connection stays open.
	TypeError = "error"
)

// Error codes carried by TypeError messages.
const (
	// CodeMessageParse means the client's message was not a JSON object with
	// a string "type".
	CodeMessageParse = "MESSAGE_PARSE_ERROR"
	// CodeUnknownType means the client sent a type the server does not
	// accept from clients.
	CodeUnknownType = "UNKNOWN_MESSAGE_TYPE"
)

// SubmittedByUser is the only submitter the protocol knows.
const SubmittedByUser = "user"

// ReasonTimeout is why a session expires.
const ReasonTimeout = "timeout"

// Message is the envelope of every message in both directions.
type Message struct {
	Type      string `json:"type"`
	Data      any    `json:"data,omitempty"`
	Timestamp string `json:"timestamp"`
}

// ConnectionEstablished is the data of TypeConnectionEstablished. SessionID,
// Status and ExpiresAt are set on /ws/{id} only.
type ConnectionEstablished struct {
	SessionID  string          `json:"sessionId,omitempty"`
	ClientID   string          `json:"clientId"`
	ClientType string          `json:"clientType"`
	ServerTime string          `json:"serverTime"`
	Status     sessions.Status `json:"status,omitempty"`
	ExpiresAt  string          `json:"expiresAt,omitempty"`
	// Revision is the point from which this connection misses nothing: pass
	// the largest revision seen as ?revision= when reconnecting.
	Revision uint64 `json:"revision"`
}

// StatusChanged is the data of TypeSessionStatusChanged.
type StatusChanged struct {
	SessionID string          `json:"sessionId"`
	OldStatus sessions.Status `json:"oldStatus"`
	NewStatus sessions.Status `json:"newStatus"`
	Timestamp string          `json:"timestamp"`
	Revision  uint64          `json:"revision"`
	// Message, Title, CreatedAt and ExpiresAt describe the session, as
	// session_created does, for its owner: the change feed promises the
	// final state of every session but not its earlier ones
	// (docs/architecture.md, "The change feed"), so a /ws client may first
	// hear of a session here. Page-token sockets get none of them.
	Message   string `json:"message,omitempty"`
	Title     string `json:"title,omitempty"`
	CreatedAt string `json:"createdAt,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	// CancelReason says why a session was cancelled, when that was
	// recorded (newStatus cancelled only), for its owner: it may quote the
	// person ("declined by the person"), which a page-token socket, held
	// by whoever has the link, must not read.
	CancelReason string `json:"cancelReason,omitempty"`
}

// FeedbackSubmitted is the data of TypeFeedbackSubmitted.
type FeedbackSubmitted struct {
	SessionID   string `json:"sessionId"`
	SubmittedBy string `json:"submittedBy"`
	Timestamp   string `json:"timestamp"`
	// Preview is the first PreviewLength characters of combinedFeedback,
	// for the owner only: a socket opened with the feedback page's token
	// never gets it, since whoever holds the link may answer but must not
	// read what someone else answered.
	Preview  string `json:"preview,omitempty"`
	Revision uint64 `json:"revision"`
	// Decision is an approval's answer.
	Decision sessions.Decision `json:"decision,omitempty"`
	// Images name the person's images; their bytes are read over REST.
	Images []ImageInfo `json:"images,omitempty"`
}

// ImageInfo names an image in a message: never its bytes, which its owner
// reads at /api/feedback/{sessionId}/images/{id}.
type ImageInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
}

func imageInfos(refs []sessions.Image) []ImageInfo {
	if len(refs) == 0 {
		return nil
	}
	out := make([]ImageInfo, len(refs))
	for i, r := range refs {
		out[i] = ImageInfo{ID: r.ID, Name: r.Name, MimeType: r.MimeType, Size: r.Size}
	}
	return out
}

// SessionExpired is the data of TypeSessionExpired.
type SessionExpired struct {
	SessionID string `json:"sessionId"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
	Revision  uint64 `json:"revision"`
}

// SessionCreated is the data of TypeSessionCreated.
type SessionCreated struct {
	SessionID string          `json:"sessionId"`
	Status    sessions.Status `json:"status"`
	Message   string          `json:"message"`
	CreatedAt string          `json:"createdAt"`
	ExpiresAt string          `json:"expiresAt"`
	Revision  uint64          `json:"revision"`
	// Kind, Title and Action say what is asked; Images name the agent's
	// images.
	Kind   sessions.Kind `json:"kind"`
	Title  string        `json:"title,omitempty"`
	Action string        `json:"action,omitempty"`
	Images []ImageInfo   `json:"images,omitempty"`
}

// Pong is the data of TypePong.
type Pong struct {
	Timestamp string `json:"timestamp"`
}

// ErrorData is the data of TypeError.
type ErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PreviewLength is how many characters of combinedFeedback a
// feedback_submitted message carries.
const PreviewLength = 100

func formatTime(t time.Time) string { return envelope.Time(t) }

func orNow(t *time.Time, now time.Time) time.Time {
	if t == nil {
		return now
	}
	return *t
}

// encode marshals one message stamped with now. The payloads are plain
// structs of strings and numbers, for which json.Marshal cannot fail.
func encode(typ string, data any, now time.Time) []byte {
	b, _ := json.Marshal(Message{Type: typ, Data: data, Timestamp: formatTime(now)})
	return b
}

// audience is whom a message is encoded for.
type audience int

const (
	// ownerAudience is the session's owner (an API key or a JWT): every
	// message in full, previews included.
	ownerAudience audience = iota
	// pageAudience is a socket opened with the feedback page's token: the
	// status and the times only, never the answer.
	pageAudience
	audiences
)

// transitionFrames returns the messages that tell a client about version s of
// a session: a creation for a pending version (to its owner; the page knows
// it is pending), otherwise the status change from pending and what follows
// it.
func transitionFrames(s *sessions.Session, now time.Time, to audience) [][]byte {
	if s.Status == sessions.StatusPending {
		if to == pageAudience {
			return nil
		}
		created := SessionCreated{
			SessionID: s.ID,
			Status:    s.Status,
			Message:   s.Message,
			CreatedAt: formatTime(s.CreatedAt),
			ExpiresAt: formatTime(s.ExpiresAt),
			Revision:  s.Revision,
			Kind:      s.Kind(),
			Title:     s.Title,
			Images:    imageInfos(s.Images),
		}
		if s.Approval != nil {
			created.Action = s.Approval.Action
		}
		return [][]byte{encode(TypeSessionCreated, created, now)}
	}
	finished := formatTime(orNow(s.FinishedAt, now))
	changed := StatusChanged{
		SessionID: s.ID,
		OldStatus: sessions.StatusPending,
		NewStatus: s.Status,
		Timestamp: finished,
		Revision:  s.Revision,
	}
	if to == ownerAudience {
		changed.Message, changed.Title = s.Message, s.Title
		changed.CreatedAt, changed.ExpiresAt = formatTime(s.CreatedAt), formatTime(s.ExpiresAt)
		if s.Status == sessions.StatusCancelled {
			changed.CancelReason = s.CancelReason
		}
	}
	frames := [][]byte{encode(TypeSessionStatusChanged, changed, now)}
	switch s.Status {
	case sessions.StatusCompleted:
		submitted := FeedbackSubmitted{
			SessionID:   s.ID,
			SubmittedBy: SubmittedByUser,
			Timestamp:   formatTime(orNow(s.SubmittedAt, now)),
			Revision:    s.Revision,
		}
		if to == ownerAudience && s.Feedback != nil {
			// combinedFeedback renders every kind of answer as text: a
			// form's values as "Label: value" lines, an approval as
			// "Approved." or "Denied: reason", images as a count. A page
			// socket hears only that an answer came, never what it was.
			submitted.Preview = sessions.Preview(s.Feedback.CombinedFeedback, PreviewLength)
			submitted.Decision = s.Feedback.Decision
			submitted.Images = imageInfos(s.Feedback.Images)
		}
		frames = append(frames, encode(TypeFeedbackSubmitted, submitted, now))
	case sessions.StatusExpired:
		frames = append(frames, encode(TypeSessionExpired, SessionExpired{
			SessionID: s.ID,
			Reason:    ReasonTimeout,
			Timestamp: finished,
			Revision:  s.Revision,
		}, now))
	}
	return frames
}
