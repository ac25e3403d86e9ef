package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/pkg/timeleft"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// ntfyChannel publishes to an ntfy topic (https://docs.ntfy.sh/publish/) as JSON,
// POSTed to the server's root with the topic in the body, so that titles and
// option labels in any script arrive intact (headers would need RFC 2047).
// A new question is a high-priority message whose click opens the feedback
// page, with action buttons: "Answer" opens the page, and a question with
// at most three options gets one button per option that POSTs
// {"selectedOptions":["…"]} straight to the submit endpoint. ntfy allows
// three actions, so "Answer" gives way to the third option (a click on the
// notification still opens the page). The end of the session is a second,
// low-priority message.
type ntfyChannel struct {
	http httpChannels
}

// NtfyMessage is the JSON body of an ntfy publish.
type NtfyMessage struct {
	Topic    string       `json:"topic"`
	Title    string       `json:"title,omitempty"`
	Message  string       `json:"message"`
	Priority int          `json:"priority,omitempty"`
	Tags     []string     `json:"tags,omitempty"`
	Click    string       `json:"click,omitempty"`
	Actions  []NtfyAction `json:"actions,omitempty"`
}

// NtfyAction is an action button: "view" opens URL, "http" sends Method
// URL with Headers and Body.
type NtfyAction struct {
	Action  string            `json:"action"`
	Label   string            `json:"label"`
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Clear   bool              `json:"clear,omitempty"`
}

// ntfy's limits: three actions, and messages beyond 4096 bytes become
// attachments.
const (
	ntfyMaxActions = 3
	ntfyMessageMax = 3500 // characters, leaving room for the footer
)

// Deliver implements Channel.
func (c *ntfyChannel) Deliver(ctx context.Context, n *Notification) (Receipt, error) {
	cfg := n.Destination.Ntfy
	if cfg == nil {
		return Receipt{}, PermanentError(0, errors.New("not an ntfy destination"))
	}
	root, topic, err := ntfyRoot(cfg.URL)
	if err != nil {
		return Receipt{}, PermanentError(0, err)
	}
	body, err := json.Marshal(ntfyMessage(n, topic, time.Now()))
	if err != nil {
		return Receipt{}, PermanentError(0, fmt.Errorf("encode message: %w", err))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	return c.http.post(ctx, n, root, h, body)
}

// ntfyRoot splits a topic URL into the server's root (where JSON is
// published) and the topic.
func ntfyRoot(topicURL string) (root, topic string, err error) {
	u, err := url.Parse(topicURL)
	if err != nil {
		return "", "", errors.New("the ntfy topic URL is not valid")
	}
	p := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndex(p, "/")
	if i < 0 || p[i+1:] == "" {
		return "", "", errors.New("the ntfy URL names no topic")
	}
	topic = p[i+1:]
	u.Path, u.RawPath = p[:i+1], ""
	return u.String(), topic, nil
}

func ntfyMessage(n *Notification, topic string, now time.Time) NtfyMessage {
	if n.Event == channels.EventTest {
		return NtfyMessage{Topic: topic, Title: "feedbackd", Message: TestMessage, Priority: 3, Tags: []string{"bell"}}
	}
	s := n.Session
	title := headline(s, 120)
	if n.Event.Final() {
		tag := map[channels.Event]string{channels.EventCompleted: "white_check_mark", channels.EventExpired: "hourglass",
			channels.EventCancelled: "x"}[n.Event]
		return NtfyMessage{Topic: topic, Title: ending(n.Event) + ": " + title, Message: ending(n.Event) + ".",
			Priority: 2, Tags: []string{tag}, Click: n.Link}
	}
	var b strings.Builder
	b.WriteString(cut(bodyText(s), ntfyMessageMax))
	if len(s.PredefinedOptions) > 0 {
		b.WriteString("\n\nOptions: ")
		for i, o := range s.PredefinedOptions {
			if i > 0 {
				b.WriteString(" · ")
			}
			b.WriteString(o)
		}
	}
	b.WriteString("\n⏳ " + timeleft.Until(s.ExpiresAt, now))
	// One button per answer that needs nothing typed: the options of a
	// question, or approve and deny.
	type answer struct{ label, body string }
	var answers []answer
	if s.Approval != nil {
		answers = []answer{{"Approve", `{"decision":"approve"}`}, {"Deny", `{"decision":"deny"}`}}
	}
	for _, o := range s.PredefinedOptions {
		body, _ := json.Marshal(map[string][]string{"selectedOptions": {o}})
		answers = append(answers, answer{cut(o, 40), string(body)})
	}
	var actions []NtfyAction
	if len(answers) != ntfyMaxActions {
		actions = append(actions, NtfyAction{Action: "view", Label: "Answer", URL: n.Link, Clear: true})
	}
	if len(answers) <= ntfyMaxActions {
		for _, a := range answers {
			actions = append(actions, NtfyAction{Action: "http", Label: a.label, URL: n.SubmitURL, Method: http.MethodPost,
				Headers: map[string]string{"Content-Type": "application/json"}, Body: a.body, Clear: true})
		}
	}
	return NtfyMessage{Topic: topic, Title: title, Message: b.String(), Priority: 4, Tags: []string{"question"},
		Click: n.Link, Actions: actions}
}
