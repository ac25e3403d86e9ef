package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/pkg/timeleft"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// slackChannel posts to a Slack incoming webhook, in Block Kit: a new question as
// a header (its first line), the question, its options, the time left and
// an "Answer" button to the feedback page; the end of a session as a
// second, short post, since an incoming webhook cannot edit what it posted.
// The answer itself is never posted: a channel may have more readers than
// the person asked. Agent text is escaped, so it cannot mention @channel or
// forge links.
type slackChannel struct {
	http httpChannels
}

// Slack's limits (https://api.slack.com/reference/block-kit/blocks).
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

// SlackMessage is the body posted to an incoming webhook.
type SlackMessage struct {
	// Text is the fallback shown in notifications and by clients without
	// Block Kit.
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit layout block: header, section, context or
// actions.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackItem `json:"elements,omitempty"`
}

// SlackText is a text object: plain_text or mrkdwn.
type SlackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// SlackItem is an element of a context block (a text object) or of an
// actions block (a button).
type SlackItem struct {
	Type     string `json:"type"`
	Text     any    `json:"text,omitempty"`
	URL      string `json:"url,omitempty"`
	Style    string `json:"style,omitempty"`
	ActionID string `json:"action_id,omitempty"`
}

// Deliver implements Channel.
func (s *slackChannel) Deliver(ctx context.Context, n *Notification) (Receipt, error) {
	if n.Destination.Slack == nil {
		return Receipt{}, PermanentError(0, errors.New("not a Slack destination"))
	}
	body, err := json.Marshal(slackMessage(n, time.Now()))
	if err != nil {
		return Receipt{}, PermanentError(0, fmt.Errorf("encode message: %w", err))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return s.http.post(ctx, n, n.Destination.Slack.WebhookURL, h, body)
}

func slackMessage(n *Notification, now time.Time) SlackMessage {
	mrkdwn := func(s string) *SlackText { return &SlackText{Type: "mrkdwn", Text: s} }
	if n.Event == channels.EventTest {
		return SlackMessage{Text: TestMessage, Blocks: []SlackBlock{{Type: "section", Text: mrkdwn(":bell: " + TestMessage)}}}
	}
	s := n.Session
	title := headline(s, slackHeaderMax)
	if n.Event.Final() {
		icon := map[channels.Event]string{channels.EventCompleted: ":white_check_mark:", channels.EventExpired: ":hourglass:",
			channels.EventCancelled: ":heavy_multiplication_x:"}[n.Event]
		return SlackMessage{
			Text: ending(n.Event) + ": " + slackEscape(title),
			Blocks: []SlackBlock{
				{Type: "section", Text: mrkdwn(cut(icon+" *"+ending(n.Event)+"*: "+slackEscape(title), slackSectionMax))},
				{Type: "context", Elements: []SlackItem{{Type: "mrkdwn", Text: "<" + n.Link + "|Open the question>"}}},
			},
		}
	}
	left := timeleft.Until(s.ExpiresAt, now)
	blocks := []SlackBlock{
		{Type: "header", Text: &SlackText{Type: "plain_text", Text: title, Emoji: true}},
		{Type: "section", Text: mrkdwn(cut(slackEscape(bodyText(s)), slackSectionMax))},
	}
	if len(s.PredefinedOptions) > 0 {
		var b strings.Builder
		b.WriteString("*Options*")
		for _, o := range s.PredefinedOptions {
			b.WriteString("\n• " + slackEscape(o))
		}
		blocks = append(blocks, SlackBlock{Type: "section", Text: mrkdwn(cut(b.String(), slackSectionMax))})
	}
	blocks = append(blocks,
		SlackBlock{Type: "context", Elements: []SlackItem{{Type: "mrkdwn", Text: fmt.Sprintf(":hourglass_flowing_sand: %s · until <!date^%d^{date_short_pretty} {time}|%s>",
			left, s.ExpiresAt.Unix(), s.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))}}},
		SlackBlock{Type: "actions", Elements: []SlackItem{{Type: "button", Text: SlackText{Type: "plain_text", Text: "Answer"},
			URL: n.Link, Style: "primary", ActionID: "answer"}}},
	)
	return SlackMessage{Text: "New question: " + slackEscape(title) + " (" + left + ")", Blocks: blocks}
}

// slackEscape makes agent text inert in mrkdwn: Slack reads <…> as links
// and mentions and wants &, < and > escaped.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
