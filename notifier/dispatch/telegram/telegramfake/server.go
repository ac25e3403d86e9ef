package telegramfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
)

// Limits Telegram applies and the fake checks.
const (
	maxText           = 4096 // UTF-16 units of visible text
	maxCallbackData   = 64   // bytes
	maxButtons        = 100
	maxCallbackAnswer = 200 // characters
	maxPollTimeout    = 50 * time.Second
)

// DefaultChatID is the chat the fake knows when Config.Chats is empty: a
// private chat with one person, whose user id is the same number.
const DefaultChatID int64 = 4242

// Config configures a Server.
type Config struct {
	// Token is the bot token the fake accepts; others get 401. Required.
	Token telegram.Token
	// Chats are the chats the bot may write to (it was started in them);
	// others get 400 "chat not found". Positive ids are private chats
	// with the user of the same id; negative ids are groups with user 1.
	// Empty means DefaultChatID alone.
	Chats []int64
	// BotUsername is getMe's username; default "feedbackd_test_bot".
	BotUsername string
	// WebhookClient delivers updates to a webhook; default a plain client.
	// A test webhook on httptest.NewTLSServer passes that server's Client.
	WebhookClient *http.Client
	// WebhookRetry is how long the fake waits before delivering an update
	// again after the webhook failed; default 50 ms (Telegram waits longer).
	WebhookRetry time.Duration
	// AllowLocalWebhook lifts Telegram's rules that a webhook listens on
	// port 443, 80, 88 or 8443 of a public address, so that a test's
	// webhook on a random 127.0.0.1 port can be set. https stays required.
	AllowLocalWebhook bool
}

// Message is a message as the fake holds it: the bot's, with its current
// text and keyboard, or a person's (injected by Reply or Say).
type Message struct {
	ChatID    int64
	MessageID int
	FromBot   bool
	// Text is the text as sent (HTML in HTML mode); Plain is what the
	// person sees.
	Text      string
	ParseMode string
	Plain     string
	Keyboard  *telegram.InlineKeyboardMarkup
	ReplyTo   int
	// Edits counts successful edits of text or keyboard.
	Edits int
	Date  time.Time
}

// Call is one Bot API request the fake received.
type Call struct {
	Method string
	// Params are the request's parameters as JSON, whatever their encoding.
	Params json.RawMessage
	// Status is the HTTP status answered; Description the error, if any.
	Status      int
	Description string
}

// CallbackAnswer is how the bot answered a button press.
type CallbackAnswer struct {
	Answered  bool
	Text      string
	ShowAlert bool
}

// Delivery is one attempt to deliver an update to the webhook.
type Delivery struct {
	UpdateID int64
	Status   int
	Err      string
}

// Server is a fake Bot API on 127.0.0.1. It speaks the routes feedbackd uses,
// checks what Telegram checks, records every call, and lets a test act as the
// person: press a button, reply to a message, say something.
type Server struct {
	// URL is the base URL to give the client as its API URL.
	URL string

	cfg  Config
	srv  *httptest.Server
	bot  telegram.User
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever updates or mode change
	chats     map[int64]bool
	nextMsg   map[int64]int
	messages  map[msgKey]*Message
	pending   []telegram.Update // not yet confirmed (getUpdates) or delivered (webhook)
	nextUpd   int64
	callbacks map[string]*CallbackAnswer
	calls     []Call
	pollGen   int
	polling   int // getUpdates requests waiting now
	webhook   struct{ url, secret string }
	lastErr   struct {
		at  time.Time
		msg string
	}
	deliveries []Delivery
	closed     bool
}

type msgKey struct {
	chat int64
	id   int
}

// New starts a fake on 127.0.0.1. Close stops it.
func New(cfg Config) (*Server, error) {
	if !cfg.Token.Valid() {
		return nil, errors.New("telegramfake: Config.Token must be a valid bot token")
	}
	if len(cfg.Chats) == 0 {
		cfg.Chats = []int64{DefaultChatID}
	}
	if cfg.BotUsername == "" {
		cfg.BotUsername = "feedbackd_test_bot"
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.WebhookRetry <= 0 {
		cfg.WebhookRetry = 50 * time.Millisecond
	}
	botID, _ := strconv.ParseInt(strings.SplitN(string(cfg.Token), ":", 2)[0], 10, 64)
	s := &Server{
		cfg:       cfg,
		bot:       telegram.User{ID: botID, IsBot: true, FirstName: "feedbackd", Username: cfg.BotUsername},
		stop:      make(chan struct{}),
		changed:   make(chan struct{}),
		chats:     map[int64]bool{},
		nextMsg:   map[int64]int{},
		messages:  map[msgKey]*Message{},
		nextUpd:   1,
		callbacks: map[string]*CallbackAnswer{},
	}
	for _, c := range cfg.Chats {
		s.chats[c] = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("telegramfake: listen: %w", err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	s.URL = s.srv.URL
	s.wg.Add(1)
	go s.deliverWebhooks()
	return s, nil
}

// Start starts a fake for a test and closes it when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close ends pending long polls and webhook deliveries and stops the server.
// It is safe to call twice.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Bot returns the bot user that getMe answers.
func (s *Server) Bot() telegram.User { return s.bot }

// notifyLocked wakes long polls and the webhook deliverer. Callers hold mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ServeHTTP routes /bot<token>/<method>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		s.fail(w, "", nil, http.StatusNotFound, "Not Found")
		return
	}
	if token != string(s.cfg.Token) {
		s.fail(w, method, nil, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.fail(w, method, nil, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	p, err := readParams(r)
	if err != nil {
		s.fail(w, method, nil, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	var result any
	var apiErr *apiError
	switch strings.ToLower(method) {
	case "getme":
		result = s.bot
	case "sendmessage":
		result, apiErr = s.sendMessage(p)
	case "editmessagetext":
		result, apiErr = s.editMessageText(p)
	case "editmessagereplymarkup":
		result, apiErr = s.editMessageReplyMarkup(p)
	case "answercallbackquery":
		result, apiErr = s.answerCallbackQuery(p)
	case "getupdates":
		result, apiErr = s.getUpdates(r.Context(), p)
	case "setwebhook":
		result, apiErr = s.setWebhook(p)
	case "deletewebhook":
		result, apiErr = s.deleteWebhook(p)
	case "getwebhookinfo":
		result = s.webhookInfo()
	default:
		s.fail(w, method, &p, http.StatusNotFound, "Not Found")
		return
	}
	if apiErr != nil {
		s.fail(w, method, &p, apiErr.code, apiErr.desc)
		return
	}
	s.record(Call{Method: method, Params: p.normalized(), Status: http.StatusOK})
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

type apiError struct {
	code int
	desc string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func (s *Server) fail(w http.ResponseWriter, method string, p *params, code int, desc string) {
	c := Call{Method: method, Status: code, Description: desc}
	if p != nil {
		c.Params = p.normalized()
	}
	s.record(c)
	writeJSON(w, code, map[string]any{"ok": false, "error_code": code, "description": desc})
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// chatParam reads chat_id and checks the chat exists.
func (s *Server) chatParam(p params) (int64, *apiError) {
	raw, ok := p.str("chat_id")
	if !ok || raw == "" {
		return 0, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || !s.chats[id] {
		return 0, badRequest("chat not found")
	}
	return id, nil
}

// textParam reads text and parse_mode and returns the visible text.
func textParam(p params) (text, mode, plain string, e *apiError) {
	text, _ = p.str("text")
	mode, _ = p.str("parse_mode")
	if !utf8.ValidString(text) {
		return "", "", "", badRequest("strings must be encoded in UTF-8")
	}
	switch strings.ToLower(mode) {
	case "":
		plain = text
	case "html":
		var err error
		if plain, err = parseHTML(text); err != nil {
			return "", "", "", badRequest("can't parse entities: %v", err)
		}
	default:
		// MarkdownV2 is real Telegram but not spoken here; say so loudly.
		return "", "", "", badRequest("unsupported parse_mode (the fake speaks HTML only)")
	}
	if strings.TrimSpace(plain) == "" {
		return "", "", "", badRequest("message text is empty")
	}
	if n := len(utf16.Encode([]rune(plain))); n > maxText {
		return "", "", "", badRequest("message is too long")
	}
	return text, mode, plain, nil
}

// markupParam reads and checks reply_markup. Only inline keyboards are kept;
// a missing parameter gives nil.
func markupParam(p params) (*telegram.InlineKeyboardMarkup, *apiError) {
	var raw map[string]json.RawMessage
	present, err := p.object("reply_markup", &raw)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if !present {
		return nil, nil
	}
	ik, ok := raw["inline_keyboard"]
	if !ok {
		return nil, nil // a reply keyboard or force_reply: not an inline keyboard
	}
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(ik, &rows); err != nil {
		return nil, badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
	}
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: make([][]telegram.InlineKeyboardButton, 0, len(rows))}
	count := 0
	for _, row := range rows {
		out := make([]telegram.InlineKeyboardButton, 0, len(row))
		for _, raw := range row {
			count++
			var b telegram.InlineKeyboardButton
			for k, v := range raw {
				var s string
				switch k {
				case "text", "url", "callback_data":
					if json.Unmarshal(v, &s) != nil {
						return nil, badRequest("can't parse inline keyboard button: field \"%s\" must be of type String", k)
					}
				}
				switch k {
				case "text":
					b.Text = s
				case "url":
					b.URL = s
				case "callback_data":
					b.CallbackData = s
				}
			}
			_, hasData := raw["callback_data"]
			_, hasURL := raw["url"]
			switch {
			case strings.TrimSpace(b.Text) == "":
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			case hasData && hasURL:
				return nil, badRequest("can't parse inline keyboard button: only one of the optional fields must be used")
			case hasData && (len(b.CallbackData) == 0 || len(b.CallbackData) > maxCallbackData):
				return nil, badRequest("BUTTON_DATA_INVALID")
			case hasURL:
				if e := checkButtonURL(b.URL); e != nil {
					return nil, e
				}
			case !hasData && len(raw) == 1:
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			out = append(out, b)
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, out)
	}
	if count > maxButtons {
		return nil, badRequest("reply markup is too long")
	}
	return kb, nil
}

// checkButtonURL refuses what Telegram refuses as a button URL: schemes
// other than http, https and tg, and hosts without a dot, such as localhost.
func checkButtonURL(raw string) *apiError {
	u, err := url.Parse(raw)
	if err != nil {
		return badRequest("inline keyboard button URL '%s' is invalid: Wrong URL", raw)
	}
	switch u.Scheme {
	case "tg":
		return nil
	case "http", "https":
		if !strings.Contains(strings.Trim(u.Hostname(), "."), ".") {
			return badRequest("inline keyboard button URL '%s' is invalid: Wrong HTTP URL", raw)
		}
		return nil
	}
	return badRequest("inline keyboard button URL '%s' is invalid: Unsupported URL protocol", raw)
}

func (s *Server) sendMessage(p params) (any, *apiError) {
	chat, e := s.chatParam(p)
	if e != nil {
		return nil, e
	}
	text, mode, plain, e := textParam(p)
	if e != nil {
		return nil, e
	}
	kb, e := markupParam(p)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.addMessageLocked(chat, true, text, mode, plain, kb, 0)
	return s.apiMessageLocked(m), nil
}

// messageParam finds the bot message named by chat_id and message_id.
func (s *Server) messageParam(p params) (*Message, *apiError) {
	if p.has("inline_message_id") {
		return nil, badRequest("MESSAGE_ID_INVALID")
	}
	chat, e := s.chatParam(p)
	if e != nil {
		return nil, e
	}
	id, ok, err := p.integer("message_id")
	if err != nil || !ok {
		return nil, badRequest("message identifier is not specified")
	}
	m := s.messages[msgKey{chat, int(id)}]
	if m == nil {
		return nil, badRequest("message to edit not found")
	}
	if !m.FromBot {
		return nil, badRequest("message can't be edited")
	}
	return m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func (s *Server) editMessageText(p params) (any, *apiError) {
	text, mode, plain, e := textParam(p)
	if e != nil {
		return nil, e
	}
	kb, e := markupParam(p)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.messageParam(p)
	if e != nil {
		return nil, e
	}
	if m.Text == text && strings.EqualFold(m.ParseMode, mode) && sameKeyboard(m.Keyboard, kb) {
		return nil, badRequest(notModified)
	}
	m.Text, m.ParseMode, m.Plain, m.Keyboard = text, mode, plain, kb
	m.Edits++
	return s.apiMessageLocked(m), nil
}

func (s *Server) editMessageReplyMarkup(p params) (any, *apiError) {
	kb, e := markupParam(p)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.messageParam(p)
	if e != nil {
		return nil, e
	}
	if sameKeyboard(m.Keyboard, kb) {
		return nil, badRequest(notModified)
	}
	m.Keyboard = kb
	m.Edits++
	return s.apiMessageLocked(m), nil
}

func sameKeyboard(a, b *telegram.InlineKeyboardMarkup) bool {
	empty := func(k *telegram.InlineKeyboardMarkup) bool { return k == nil || len(k.InlineKeyboard) == 0 }
	if empty(a) || empty(b) {
		return empty(a) && empty(b)
	}
	return reflect.DeepEqual(a, b)
}

func (s *Server) answerCallbackQuery(p params) (any, *apiError) {
	id, _ := p.str("callback_query_id")
	text, _ := p.str("text")
	if utf8.RuneCountInString(text) > maxCallbackAnswer {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.callbacks[id]
	if a == nil || a.Answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	a.Answered, a.Text, a.ShowAlert = true, text, p.boolean("show_alert")
	return true, nil
}

func (s *Server) getUpdates(ctx context.Context, p params) (any, *apiError) {
	offset, _, err := p.integer("offset")
	if err != nil {
		return nil, badRequest("%v", err)
	}
	limit, hasLimit, err := p.integer("limit")
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if !hasLimit || limit > 100 {
		limit = 100
	}
	if limit < 1 {
		limit = 1
	}
	secs, _, err := p.integer("timeout")
	if err != nil {
		return nil, badRequest("%v", err)
	}
	timeout := min(time.Duration(max(secs, 0))*time.Second, maxPollTimeout)

	s.mu.Lock()
	if s.webhook.url != "" {
		s.mu.Unlock()
		return nil, &apiError{code: http.StatusConflict, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	// Asking with an offset confirms every update below it; a negative one
	// keeps only the last -offset updates.
	switch {
	case offset > 0:
		s.pending = slices.DeleteFunc(s.pending, func(u telegram.Update) bool { return u.UpdateID < offset })
	case offset < 0 && int64(len(s.pending)) > -offset:
		s.pending = s.pending[int64(len(s.pending))+offset:]
	}
	s.pollGen++
	gen := s.pollGen
	s.notifyLocked() // ends an older poll with 409
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if s.pollGen != gen {
			s.mu.Unlock()
			return nil, &apiError{code: http.StatusConflict, desc: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		if len(s.pending) > 0 || timeout == 0 {
			n := min(len(s.pending), int(limit))
			out := append([]telegram.Update(nil), s.pending[:n]...)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.polling++
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			timeout = 0
		case <-ctx.Done():
		case <-s.stop:
		}
		s.mu.Lock()
		s.polling--
		if ctx.Err() != nil {
			s.mu.Unlock()
			return nil, &apiError{code: 499, desc: "client went away"}
		}
		if s.closed {
			s.mu.Unlock()
			return []telegram.Update{}, nil
		}
	}
}

func (s *Server) setWebhook(p params) (any, *apiError) {
	raw, _ := p.str("url")
	secret, hasSecret := p.str("secret_token")
	if raw == "" {
		return s.deleteWebhook(p)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, badRequest("bad webhook: invalid webhook URL specified")
	}
	if u.Scheme != "https" {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if !s.cfg.AllowLocalWebhook {
		switch u.Port() {
		case "", "443", "80", "88", "8443":
		default:
			return nil, badRequest("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			return nil, badRequest("bad webhook: IP address %s is reserved", u.Hostname())
		}
	}
	if hasSecret && !validSecret(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook.url, s.webhook.secret = raw, secret
	if p.boolean("drop_pending_updates") {
		s.pending = nil
	}
	s.pollGen++ // a running long poll ends with 409
	s.notifyLocked()
	return true, nil
}

func validSecret(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (s *Server) deleteWebhook(p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook.url, s.webhook.secret = "", ""
	if p.boolean("drop_pending_updates") {
		s.pending = nil
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) webhookInfo() telegram.WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := telegram.WebhookInfo{URL: s.webhook.url, PendingUpdateCount: len(s.pending)}
	if !s.lastErr.at.IsZero() {
		info.LastErrorDate, info.LastErrorMessage = s.lastErr.at.Unix(), s.lastErr.msg
	}
	return info
}

// deliverWebhooks posts pending updates, in order, to the webhook while one
// is set, retrying an update until the webhook answers 2xx.
func (s *Server) deliverWebhooks() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		target, secret := s.webhook.url, s.webhook.secret
		var next *telegram.Update
		if target != "" && len(s.pending) > 0 {
			u := s.pending[0]
			next = &u
		}
		changed := s.changed
		s.mu.Unlock()
		if next == nil {
			select {
			case <-changed:
				continue
			case <-s.stop:
				return
			}
		}
		status, err := s.post(target, secret, *next)
		s.mu.Lock()
		d := Delivery{UpdateID: next.UpdateID, Status: status}
		if err != nil {
			d.Err = err.Error()
		}
		s.deliveries = append(s.deliveries, d)
		ok := err == nil && status >= 200 && status < 300
		if ok && len(s.pending) > 0 && s.pending[0].UpdateID == next.UpdateID {
			s.pending = s.pending[1:]
		}
		if !ok {
			s.lastErr.at = time.Now()
			if err != nil {
				s.lastErr.msg = err.Error()
			} else {
				s.lastErr.msg = "Wrong response from the webhook: " + strconv.Itoa(status) + " " + http.StatusText(status)
			}
		}
		s.mu.Unlock()
		if !ok {
			select {
			case <-time.After(s.cfg.WebhookRetry):
			case <-s.stop:
				return
			}
		}
	}
}

func (s *Server) post(target, secret string, u telegram.Update) (int, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(telegram.SecretHeader, secret)
	}
	resp, err := s.cfg.WebhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// addMessageLocked stores a new message. Callers hold mu.
func (s *Server) addMessageLocked(chat int64, fromBot bool, text, mode, plain string, kb *telegram.InlineKeyboardMarkup, replyTo int) *Message {
	s.nextMsg[chat]++
	m := &Message{
		ChatID: chat, MessageID: s.nextMsg[chat], FromBot: fromBot,
		Text: text, ParseMode: mode, Plain: plain, Keyboard: kb, ReplyTo: replyTo, Date: time.Now(),
	}
	s.messages[msgKey{chat, m.MessageID}] = m
	return m
}

// user returns the person who acts in chat.
func (s *Server) user(chat int64) telegram.User {
	id := chat
	if chat < 0 {
		id = 1
	}
	return telegram.User{ID: id, FirstName: "Pat", Username: "pat"}
}

func chatOf(id int64) telegram.Chat {
	if id < 0 {
		return telegram.Chat{ID: id, Type: "supergroup", Title: "Team"}
	}
	return telegram.Chat{ID: id, Type: "private", Username: "pat"}
}

// apiMessageLocked is m as the Bot API shows it: visible text, keyboard,
// and the message it replies to. Callers hold mu.
func (s *Server) apiMessageLocked(m *Message) *telegram.Message {
	out := &telegram.Message{
		MessageID: m.MessageID, Chat: chatOf(m.ChatID), Date: m.Date.Unix(), Text: m.Plain,
		ReplyMarkup: m.Keyboard.Clone(),
	}
	if m.Edits > 0 {
		out.EditDate = time.Now().Unix()
	}
	if m.FromBot {
		b := s.bot
		out.From = &b
	} else {
		u := s.user(m.ChatID)
		out.From = &u
	}
	if m.ReplyTo != 0 {
		if r := s.messages[msgKey{m.ChatID, m.ReplyTo}]; r != nil {
			// Telegram does not nest replies further.
			rr := *r
			rr.ReplyTo = 0
			out.ReplyToMessage = s.apiMessageLocked(&rr)
		}
	}
	return out
}

// enqueueLocked adds an update for getUpdates or the webhook. Callers hold mu.
func (s *Server) enqueueLocked(u telegram.Update) int64 {
	if u.UpdateID == 0 {
		u.UpdateID = s.nextUpd
	}
	s.nextUpd = max(s.nextUpd, u.UpdateID) + 1
	s.pending = append(s.pending, u)
	s.notifyLocked()
	return u.UpdateID
}

// Press acts as the person pressing the button with callback data data
// under the bot's message messageID: the bot gets a callback_query carrying
// the message with its current keyboard. Like a real client, only a button
// that is on the message can be pressed. It returns the query's id.
func (s *Server) Press(chatID int64, messageID int, data string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[msgKey{chatID, messageID}]
	if m == nil || !m.FromBot {
		return "", fmt.Errorf("telegramfake: no bot message %d in chat %d", messageID, chatID)
	}
	found := false
	if m.Keyboard != nil {
		for _, row := range m.Keyboard.InlineKeyboard {
			for _, b := range row {
				found = found || b.CallbackData == data && data != ""
			}
		}
	}
	if !found {
		return "", fmt.Errorf("telegramfake: message %d has no button with data %q", messageID, data)
	}
	idBytes := make([]byte, 8)
	_, _ = rand.Read(idBytes)
	id := hex.EncodeToString(idBytes)
	s.callbacks[id] = &CallbackAnswer{}
	s.enqueueLocked(telegram.Update{CallbackQuery: &telegram.CallbackQuery{
		ID: id, From: s.user(chatID), Message: s.apiMessageLocked(m),
		ChatInstance: strconv.FormatInt(chatID, 10), Data: data,
	}})
	return id, nil
}

// PressOption presses the button whose visible text contains label under
// message messageID; a convenience over Press for tests that think in
// options, not tokens.
func (s *Server) PressOption(chatID int64, messageID int, label string) (string, error) {
	s.mu.Lock()
	m := s.messages[msgKey{chatID, messageID}]
	var data string
	if m != nil && m.Keyboard != nil {
		for _, row := range m.Keyboard.InlineKeyboard {
			for _, b := range row {
				if data == "" && b.CallbackData != "" && strings.Contains(b.Text, label) {
					data = b.CallbackData
				}
			}
		}
	}
	s.mu.Unlock()
	if data == "" {
		return "", fmt.Errorf("telegramfake: message %d has no button labelled %q", messageID, label)
	}
	return s.Press(chatID, messageID, data)
}

// Reply acts as the person replying to message replyTo with text; the bot
// gets a message update with reply_to_message set. It returns the new
// message's id.
func (s *Server) Reply(chatID int64, replyTo int, text string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.chats[chatID] {
		return 0, fmt.Errorf("telegramfake: unknown chat %d", chatID)
	}
	if s.messages[msgKey{chatID, replyTo}] == nil {
		return 0, fmt.Errorf("telegramfake: no message %d in chat %d", replyTo, chatID)
	}
	m := s.addMessageLocked(chatID, false, text, "", text, nil, replyTo)
	s.enqueueLocked(telegram.Update{Message: s.apiMessageLocked(m)})
	return m.MessageID, nil
}

// Say acts as the person sending text that replies to nothing.
func (s *Server) Say(chatID int64, text string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.chats[chatID] {
		return 0, fmt.Errorf("telegramfake: unknown chat %d", chatID)
	}
	m := s.addMessageLocked(chatID, false, text, "", text, nil, 0)
	s.enqueueLocked(telegram.Update{Message: s.apiMessageLocked(m)})
	return m.MessageID, nil
}

// Inject queues an arbitrary update, e.g. one from a chat the bot was not
// configured for. A zero UpdateID is assigned; the id is returned.
func (s *Server) Inject(u telegram.Update) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(u)
}

// Messages returns the bot's messages in chatID, oldest first, as they are
// now (after edits).
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for id := 1; id <= s.nextMsg[chatID]; id++ {
		if m := s.messages[msgKey{chatID, id}]; m != nil && m.FromBot {
			c := *m
			c.Keyboard = m.Keyboard.Clone()
			out = append(out, c)
		}
	}
	return out
}

// Message returns one message of chatID as it is now.
func (s *Server) Message(chatID int64, id int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[msgKey{chatID, id}]
	if m == nil {
		return Message{}, false
	}
	c := *m
	c.Keyboard = m.Keyboard.Clone()
	return c, true
}

// Calls returns every request received, in order; with methods given, only
// those to these methods (case-insensitive).
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || slices.ContainsFunc(methods, func(m string) bool { return strings.EqualFold(m, c.Method) }) {
			out = append(out, c)
		}
	}
	return out
}

// CallbackAnswer returns how the bot answered the press with query id id.
func (s *Server) CallbackAnswer(id string) (CallbackAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.callbacks[id]
	if a == nil {
		return CallbackAnswer{}, false
	}
	return *a, true
}

// Pending returns how many updates are neither confirmed by getUpdates nor
// delivered to the webhook.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Polling returns how many getUpdates requests are waiting for an update.
func (s *Server) Polling() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polling
}

// Webhook returns the webhook URL and secret set by setWebhook ("" when long
// polling).
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook.url, s.webhook.secret
}

// Deliveries returns every attempt to deliver an update to the webhook.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}
