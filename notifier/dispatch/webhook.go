package dispatch

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// webhookChannel delivers signed webhooks as Standard Webhooks specify
// (https://www.standardwebhooks.com): a JSON body
//
//	{"type":"session.completed","timestamp":"…","data":{…the session…}}
//
// with the headers webhook-id (the delivery id, the same on every retry),
// webhook-timestamp (Unix seconds of this attempt) and webhook-signature
// ("v1," and the base64 HMAC-SHA256, keyed with the secret's decoded bytes,
// of "<id>.<timestamp>.<body>").
type webhookChannel struct {
	http httpChannels
}

// WebhookPayload is the body of a webhook.
type WebhookPayload struct {
	Type channels.Event `json:"type"`
	// Timestamp is when the event happened.
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// WebhookSession is the session in a webhook's data. Feedback is there only
// in session.completed, and only when the webhook asked for answers.
type WebhookSession struct {
	SessionID string          `json:"sessionId"`
	Status    sessions.Status `json:"status"`
	// Kind is "question" or "approval"; Title and Approval are set when
	// the agent gave them.
	Kind              sessions.Kind      `json:"kind"`
	Title             string             `json:"title,omitempty"`
	Approval          *sessions.Approval `json:"approval,omitempty"`
	Message           string             `json:"message"`
	PredefinedOptions []string           `json:"predefinedOptions,omitempty"`
	Timeout           int                `json:"timeout"`
	Metadata          json.RawMessage    `json:"metadata,omitempty"`
	CreatedAt         string             `json:"createdAt"`
	ExpiresAt         string             `json:"expiresAt"`
	SubmittedAt       string             `json:"submittedAt,omitempty"`
	FinishedAt        string             `json:"finishedAt,omitempty"`
	FeedbackURL       string             `json:"feedbackUrl"`
	Feedback          *sessions.Feedback `json:"feedback,omitempty"`
}

// TestMessage is the data of a test notification.
const TestMessage = "This is a test notification from feedbackd."

// Deliver implements Channel.
func (w *webhookChannel) Deliver(ctx context.Context, n *Notification) (Receipt, error) {
	hook := n.Destination.Webhook
	if hook == nil {
		return Receipt{}, PermanentError(0, errors.New("not a webhook destination"))
	}
	key, err := channels.SecretKey(hook.Secret)
	if err != nil {
		return Receipt{}, PermanentError(0, fmt.Errorf("the signing secret %v", err))
	}
	body, err := json.Marshal(webhookPayload(n, hook.IncludeAnswer))
	if err != nil {
		return Receipt{}, PermanentError(0, fmt.Errorf("encode payload: %w", err))
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", n.ID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+Sign(key, n.ID, ts, body))
	return w.http.post(ctx, n, hook.URL, h, body)
}

// Sign is the Standard Webhooks v1 signature of a message: the base64
// HMAC-SHA256 of "<id>.<timestamp>.<body>".
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func webhookPayload(n *Notification, includeAnswer bool) WebhookPayload {
	if n.Event == channels.EventTest {
		return WebhookPayload{Type: channels.EventTest, Timestamp: apiTime(n.Time), Data: map[string]string{"message": TestMessage}}
	}
	s := n.Session
	data := WebhookSession{
		SessionID:         s.ID,
		Status:            s.Status,
		Kind:              s.Kind(),
		Title:             s.Title,
		Approval:          s.Approval,
		Message:           s.Message,
		PredefinedOptions: s.PredefinedOptions,
		Timeout:           s.Timeout,
		Metadata:          s.Metadata,
		CreatedAt:         apiTime(s.CreatedAt),
		ExpiresAt:         apiTime(s.ExpiresAt),
		FeedbackURL:       n.Link,
	}
	if s.SubmittedAt != nil {
		data.SubmittedAt = apiTime(*s.SubmittedAt)
	}
	if s.FinishedAt != nil {
		data.FinishedAt = apiTime(*s.FinishedAt)
	}
	if n.Event == channels.EventCompleted && includeAnswer {
		data.Feedback = s.Feedback
	}
	return WebhookPayload{Type: n.Event, Timestamp: apiTime(n.Time), Data: data}
}

// apiTime is the time format of every API body: RFC 3339 with
// milliseconds, UTC (see docs/api.md).
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
