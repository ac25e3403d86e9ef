package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// WebPushConfig turns the Web Push channel on.
type WebPushConfig struct {
	// Keys are the cluster's VAPID key pair, the one browsers subscribed
	// with. Required.
	Keys *webpush.VAPIDKeys
	// Subject is how push services reach the operator: "mailto:…" or an
	// "https:" URL. Required.
	Subject string
	// HTTPClient sends the pushes [Config.Client]: endpoints come from
	// browsers, so the client should refuse private addresses.
	HTTPClient webpush.Doer
}

// webPushChannel pushes to a browser's subscription: a question becomes a
// notification that opens its page (webpush.QuestionMessage), and the end
// of the session closes it (webpush.CloseMessage, found by its tag). A
// subscription the push service no longer knows (404, 410) is Gone, and the
// dispatcher removes it from the owner's settings.
type webPushChannel struct {
	sender    *webpush.Sender
	publicURL string
}

// Deliver implements Channel.
func (c *webPushChannel) Deliver(ctx context.Context, n *Notification) (Receipt, error) {
	p := n.Destination.Push
	if p == nil {
		return Receipt{}, PermanentError(0, errors.New("not a Web Push destination"))
	}
	now := time.Now()
	var msg webpush.Message
	switch {
	case n.Event == channels.EventTest:
		msg = webpush.QuestionMessage(webpush.Question{SessionID: "test", Title: "feedbackd", Message: TestMessage,
			URL: c.publicURL + "/", ExpiresAt: now.Add(time.Hour)}, now)
	case n.Event.Final():
		msg = webpush.CloseMessage(n.Session.ID, string(n.Session.Status))
	default:
		// The title, or "Approve: <action>?"; without either the
		// notification says an agent is asking, over the question's
		// first line.
		s := n.Session
		title := s.Title
		if title == "" && s.Approval != nil {
			title = approvalLine(s.Approval)
		}
		msg = webpush.QuestionMessage(webpush.Question{SessionID: s.ID, Title: cut(title, 120), Message: bodyText(s),
			URL: n.Link, ExpiresAt: s.ExpiresAt}, now)
	}
	opts, ok := msg.Options(now)
	if !ok {
		return Receipt{}, PermanentError(0, errors.New("the question expired before it could be pushed"))
	}
	payload, err := msg.Encode()
	if err != nil {
		return Receipt{}, PermanentError(0, fmt.Errorf("encode push message: %w", err))
	}
	res, err := c.sender.Send(ctx, webpush.Subscription{Endpoint: p.Endpoint, P256dh: p.P256dh, Auth: p.Auth}, payload, opts)
	switch res.Outcome {
	case webpush.Delivered:
		return Receipt{StatusCode: res.StatusCode}, nil
	case webpush.Gone:
		return Receipt{}, GoneError(res.StatusCode, err)
	case webpush.Transient:
		if errors.Is(err, egress.ErrRefused) {
			// A browser gave an endpoint on a private address: no retry
			// will make it public.
			return Receipt{}, PermanentError(0, err)
		}
		if err == nil {
			err = errors.New("the push service did not take the message")
		}
		return Receipt{}, TransientError(res.StatusCode, res.RetryAfter, err)
	}
	if err == nil {
		err = errors.New("the push service refused the message")
	}
	return Receipt{}, PermanentError(res.StatusCode, err)
}
