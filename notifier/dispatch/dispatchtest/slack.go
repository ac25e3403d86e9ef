package dispatchtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// SlackPost is a message a Slack fake accepted.
type SlackPost struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
	// At is when the post arrived.
	At time.Time `json:"-"`
}

// SlackBlock is a Block Kit block as the fake reads it.
type SlackBlock struct {
	Type     string          `json:"type"`
	Text     *SlackText      `json:"text,omitempty"`
	Elements []SlackElement  `json:"elements,omitempty"`
	BlockID  string          `json:"block_id,omitempty"`
	Fields   json.RawMessage `json:"fields,omitempty"`
}

// SlackText is a text object.
type SlackText struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`
	Verbatim *bool  `json:"verbatim,omitempty"`
}

// SlackElement is a context element (a text object) or an actions element
// (a button).
type SlackElement struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text,omitempty"`
	URL      string          `json:"url,omitempty"`
	Style    string          `json:"style,omitempty"`
	ActionID string          `json:"action_id,omitempty"`
	Value    string          `json:"value,omitempty"`
}

// Slack is an incoming webhook (https://api.slack.com/messaging/webhooks).
// Like Slack it answers 200 "ok" to a valid message, 404 "no_service" to an
// unknown webhook path, 400 "invalid_payload" to a body that is not JSON,
// 400 "no_text" to a message with neither text nor blocks and 400
// "invalid_blocks" to blocks that break Block Kit's rules (types, text
// types and lengths, button fields, counts).
type Slack struct {
	// URL is the incoming webhook's URL, secret path included.
	URL  string
	path string

	mu     sync.Mutex
	posts  []SlackPost
	failed []string
	status func(n int) int
}

// NewSlack starts a Slack fake.
func NewSlack(tb testing.TB) *Slack {
	tb.Helper()
	s := &Slack{path: "/services/T0FAKE/B0FAKE/" + "s3cr3tPathToken42"}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + s.path
	return s
}

// FailWith makes the n-th valid post (from 1) answer the status fn returns
// instead of 200; 0 keeps 200.
func (s *Slack) FailWith(fn func(n int) int) {
	s.mu.Lock()
	s.status = fn
	s.mu.Unlock()
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fail := func(code int, msg string) {
		s.mu.Lock()
		s.failed = append(s.failed, msg)
		s.mu.Unlock()
		http.Error(w, msg, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != s.path {
		fail(http.StatusNotFound, "no_service")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	var p SlackPost
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	if p.Text == "" && len(p.Blocks) == 0 {
		fail(http.StatusBadRequest, "no_text")
		return
	}
	if err := checkBlocks(p.Blocks); err != nil {
		fail(http.StatusBadRequest, "invalid_blocks: "+err.Error())
		return
	}
	p.At = time.Now()
	s.mu.Lock()
	s.posts = append(s.posts, p)
	n, status := len(s.posts), s.status
	s.mu.Unlock()
	if status != nil {
		if code := status(n); code != 0 {
			s.mu.Lock()
			s.posts = s.posts[:len(s.posts)-1]
			s.mu.Unlock()
			fail(code, "rollup_error")
			return
		}
	}
	_, _ = io.WriteString(w, "ok")
}

// checkBlocks applies Block Kit's rules to the blocks the dispatcher uses.
func checkBlocks(blocks []SlackBlock) error {
	if len(blocks) > 50 {
		return fmt.Errorf("%d blocks, at most 50", len(blocks))
	}
	for i, b := range blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 150 {
				return fmt.Errorf("blocks[%d]: a header needs plain_text of 1-150 characters", i)
			}
		case "section":
			if b.Text == nil || (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") || b.Text.Text == "" ||
				utf8.RuneCountInString(b.Text.Text) > 3000 {
				return fmt.Errorf("blocks[%d]: a section needs text of 1-3000 characters", i)
			}
			if b.Text.Type == "mrkdwn" && b.Text.Emoji != nil {
				return fmt.Errorf("blocks[%d]: emoji is only valid on plain_text", i)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return fmt.Errorf("blocks[%d]: a context needs 1-10 elements", i)
			}
			for j, e := range b.Elements {
				var txt string
				if (e.Type != "mrkdwn" && e.Type != "plain_text") || json.Unmarshal(e.Text, &txt) != nil || txt == "" {
					return fmt.Errorf("blocks[%d].elements[%d]: a context element must be a text object", i, j)
				}
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > 25 {
				return fmt.Errorf("blocks[%d]: actions need 1-25 elements", i)
			}
			for j, e := range b.Elements {
				var t SlackText
				if e.Type != "button" || json.Unmarshal(e.Text, &t) != nil || t.Type != "plain_text" || t.Text == "" ||
					utf8.RuneCountInString(t.Text) > 75 || len(e.ActionID) > 255 || len(e.URL) > 3000 {
					return fmt.Errorf("blocks[%d].elements[%d]: not a valid button", i, j)
				}
				if e.URL != "" {
					if u, err := url.Parse(e.URL); err != nil || !u.IsAbs() {
						return fmt.Errorf("blocks[%d].elements[%d]: the button URL must be absolute", i, j)
					}
				}
				if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
					return fmt.Errorf("blocks[%d].elements[%d]: unknown style %q", i, j, e.Style)
				}
			}
		case "divider":
		default:
			return fmt.Errorf("blocks[%d]: unknown type %q", i, b.Type)
		}
	}
	return nil
}

// Posts returns the messages accepted so far.
func (s *Slack) Posts() []SlackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackPost(nil), s.posts...)
}

// Refused returns the error bodies of requests the fake refused.
func (s *Slack) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failed...)
}
