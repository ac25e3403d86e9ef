package dispatchtest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// NtfyMessage is a message an ntfy fake accepted (the JSON publish format,
// https://docs.ntfy.sh/publish/#publish-as-json).
type NtfyMessage struct {
	Topic    string       `json:"topic"`
	Title    string       `json:"title"`
	Message  string       `json:"message"`
	Priority int          `json:"priority"`
	Tags     []string     `json:"tags"`
	Click    string       `json:"click"`
	Actions  []NtfyAction `json:"actions"`
	Markdown bool         `json:"markdown"`
	Icon     string       `json:"icon"`
	Delay    string       `json:"delay"`
	Email    string       `json:"email"`
	Call     string       `json:"call"`
	Attach   string       `json:"attach"`
	Filename string       `json:"filename"`
	Cache    string       `json:"cache"`
	Firebase string       `json:"firebase"`
	// Authorization is the header the publish came with.
	Authorization string `json:"-"`
	// At is when the publish arrived.
	At time.Time `json:"-"`
}

// NtfyAction is an action button.
type NtfyAction struct {
	ID      string            `json:"id"`
	Action  string            `json:"action"`
	Label   string            `json:"label"`
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Intent  string            `json:"intent"`
	Extras  map[string]string `json:"extras"`
	Clear   bool              `json:"clear"`
}

var ntfyTopic = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// Ntfy is an ntfy server accepting JSON publishes on its root, as ntfy does:
// 400 to a body that is not a message (unknown fields, a bad topic, a
// priority outside 1-5, more than three actions, an action without a label
// or with a bad URL or method), 401 without the access token it was given,
// 403 with a wrong one, 200 and the message's JSON otherwise.
type Ntfy struct {
	// URL is the server's root; TopicURL(topic) is what a user configures.
	URL   string
	token string

	mu       sync.Mutex
	messages []NtfyMessage
	refused  []string
	status   func(n int) int
}

// NewNtfy starts an ntfy fake; a non-empty token is required of every
// publish (as an access token, "Authorization: Bearer tk_…").
func NewNtfy(tb testing.TB, token string) *Ntfy {
	tb.Helper()
	n := &Ntfy{token: token}
	srv := httptest.NewServer(http.HandlerFunc(n.serve))
	tb.Cleanup(srv.Close)
	n.URL = srv.URL
	return n
}

// TopicURL is the topic's URL, what a user puts in settings.
func (n *Ntfy) TopicURL(topic string) string { return n.URL + "/" + topic }

// FailWith makes the n-th valid publish (from 1) answer the status fn
// returns instead of 200; 0 keeps 200.
func (n *Ntfy) FailWith(fn func(n int) int) {
	n.mu.Lock()
	n.status = fn
	n.mu.Unlock()
}

func (n *Ntfy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fail := func(code int, msg string) {
		n.mu.Lock()
		n.refused = append(n.refused, msg)
		n.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": code*100 + 1, "http": code, "error": msg})
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		fail(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.URL.Path != "/" {
		fail(http.StatusBadRequest, "this fake takes JSON publishes on / only")
		return
	}
	if n.token != "" {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			fail(http.StatusUnauthorized, "unauthorized")
			return
		}
		if subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+n.token)) != 1 {
			fail(http.StatusForbidden, "forbidden")
			return
		}
	}
	var m NtfyMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		fail(http.StatusBadRequest, "invalid request: json body: "+err.Error())
		return
	}
	if err := checkNtfy(&m); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	m.Authorization, m.At = r.Header.Get("Authorization"), time.Now()
	n.mu.Lock()
	n.messages = append(n.messages, m)
	count, status := len(n.messages), n.status
	n.mu.Unlock()
	if status != nil {
		if code := status(count); code != 0 {
			n.mu.Lock()
			n.messages = n.messages[:len(n.messages)-1]
			n.mu.Unlock()
			fail(code, "injected failure")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": fmt.Sprintf("fake%07d", count), "time": time.Now().Unix(),
		"event": "message", "topic": m.Topic, "message": m.Message})
}

func checkNtfy(m *NtfyMessage) error {
	if !ntfyTopic.MatchString(m.Topic) {
		return fmt.Errorf("invalid topic %q", m.Topic)
	}
	if m.Priority < 0 || m.Priority > 5 {
		return fmt.Errorf("invalid priority %d", m.Priority)
	}
	if m.Click != "" {
		if u, err := url.Parse(m.Click); err != nil || !u.IsAbs() {
			return fmt.Errorf("invalid click URL")
		}
	}
	if len(m.Actions) > 3 {
		return fmt.Errorf("too many actions: %d, at most 3", len(m.Actions))
	}
	for i, a := range m.Actions {
		if a.Label == "" {
			return fmt.Errorf("actions[%d]: label required", i)
		}
		switch a.Action {
		case "view", "http":
			u, err := url.Parse(a.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("actions[%d]: url must be an http(s) URL", i)
			}
			if a.Action == "http" && a.Method != "" && !strings.Contains("GET POST PUT", strings.ToUpper(a.Method)) {
				return fmt.Errorf("actions[%d]: unknown method %q", i, a.Method)
			}
			if a.Action == "view" && (a.Method != "" || a.Body != "") {
				return fmt.Errorf("actions[%d]: a view action takes no method or body", i)
			}
		case "broadcast":
		default:
			return fmt.Errorf("actions[%d]: unknown action %q", i, a.Action)
		}
	}
	return nil
}

// Messages returns the messages accepted so far.
func (n *Ntfy) Messages() []NtfyMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]NtfyMessage(nil), n.messages...)
}

// Refused returns the errors of requests the fake refused.
func (n *Ntfy) Refused() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.refused...)
}
