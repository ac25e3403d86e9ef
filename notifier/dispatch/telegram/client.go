package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAPIURL is Telegram's Bot API. A local Bot API server or a test fake
// stands in through Config.APIURL (TELEGRAM_API_URL).
const DefaultAPIURL = "https://api.telegram.org"

const (
	// callTimeout bounds a request whose context has no deadline.
	callTimeout = 30 * time.Second
	// maxResponse caps what is read of an answer; 100 updates fit easily.
	maxResponse = 8 << 20
	// maxPollTimeout is the longest long poll Telegram honours.
	maxPollTimeout = 50 * time.Second
)

// Config configures a Client.
type Config struct {
	// Token is the bot token from @BotFather.
	Token Token
	// APIURL is the Bot API's base URL; empty means DefaultAPIURL.
	APIURL string
	// HTTPClient sends the requests; nil means a client with no overall
	// timeout (each call sets its own, long polls need longer).
	HTTPClient *http.Client
	// Now is the clock used for "time left"; nil means time.Now.
	Now func() time.Time
}

// Client calls the Bot API. It is safe for concurrent use and holds no state
// between calls, so any replica may use its own.
type Client struct {
	token Token
	base  string // APIURL without a trailing slash
	http  *http.Client
	now   func() time.Time
}

// New returns a client for cfg. It makes no request.
func New(cfg Config) (*Client, error) {
	if !cfg.Token.Valid() {
		return nil, fmt.Errorf("%w: the bot token does not look like <bot id>:<secret>", ErrInvalid)
	}
	base := cfg.APIURL
	if base == "" {
		base = DefaultAPIURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: API URL %q must be an absolute http(s) URL", ErrInvalid, base)
	}
	c := &Client{token: cfg.Token, base: strings.TrimRight(base, "/"), http: cfg.HTTPClient, now: cfg.Now}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// envelope is the shape of every Bot API answer.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// call posts params as JSON to method and decodes the result into out (if
// not nil). The URL holds the token, so no error it returns mentions the URL.
func (c *Client) call(ctx context.Context, method string, params, out any, timeout time.Duration) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+string(c.token)+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: build request: %w", method, c.redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, c.redact(err))
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %w", method, c.redact(err))
	}
	if len(data) > maxResponse {
		return fmt.Errorf("telegram %s: answer larger than %d bytes: %w", method, maxResponse, errTransport)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		// Not the Bot API talking (a proxy's error page, say); 5xx ones may
		// pass, anything else will not.
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return &Error{Method: method, Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode)}
		}
		return fmt.Errorf("telegram %s: HTTP %d with a body that is not a Bot API answer: %w", method, resp.StatusCode, errTransport)
	}
	if !env.OK {
		e := &Error{Method: method, Code: env.ErrorCode, Description: env.Description}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		if env.Parameters != nil && env.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(env.Parameters.RetryAfter) * time.Second
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("telegram %s: decode result: %w", method, err)
		}
	}
	return nil
}

// redact removes the token from err: net/http puts the whole URL, token
// included, into its errors.
func (c *Client) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		inner := ue.Err
		if inner != nil && strings.Contains(inner.Error(), string(c.token)) {
			inner = errors.New(strings.ReplaceAll(inner.Error(), string(c.token), redacted))
		}
		return &url.Error{Op: ue.Op, URL: strings.ReplaceAll(ue.URL, string(c.token), redacted), Err: inner}
	}
	if strings.Contains(err.Error(), string(c.token)) {
		return errors.New(strings.ReplaceAll(err.Error(), string(c.token), redacted))
	}
	return err
}

// GetMe returns the bot's own user: a cheap check that the token works.
func (c *Client) GetMe(ctx context.Context) (User, error) {
	var u User
	err := c.call(ctx, "getMe", struct{}{}, &u, callTimeout)
	return u, err
}

// sendMessageParams are sendMessage's parameters.
type sendMessageParams struct {
	ChatID             int64                 `json:"chat_id"`
	Text               string                `json:"text"`
	ParseMode          string                `json:"parse_mode,omitempty"`
	ReplyMarkup        *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	LinkPreviewOptions *linkPreviewOptions   `json:"link_preview_options,omitempty"`
}

type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// editMessageTextParams are editMessageText's parameters. Leaving
// ReplyMarkup out removes the keyboard.
type editMessageTextParams struct {
	ChatID             int64                 `json:"chat_id"`
	MessageID          int                   `json:"message_id"`
	Text               string                `json:"text"`
	ParseMode          string                `json:"parse_mode,omitempty"`
	ReplyMarkup        *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	LinkPreviewOptions *linkPreviewOptions   `json:"link_preview_options,omitempty"`
}

// SendQuestion sends q to the chat as one message — the title in bold, the
// message, the time left, a hint and the link — with the options as an
// inline keyboard (see the package doc), and returns the message's id, which
// the caller keeps to edit the message when the session ends.
func (c *Client) SendQuestion(ctx context.Context, chatID int64, q Question) (int, error) {
	if chatID == 0 {
		return 0, fmt.Errorf("%w: chat id is required", ErrInvalid)
	}
	text, kb, err := q.render(c.now())
	if err != nil {
		return 0, err
	}
	var m Message
	err = c.call(ctx, "sendMessage", sendMessageParams{
		ChatID: chatID, Text: text, ParseMode: "HTML", ReplyMarkup: kb,
		LinkPreviewOptions: &linkPreviewOptions{IsDisabled: true},
	}, &m, callTimeout)
	if err != nil {
		return 0, err
	}
	return m.MessageID, nil
}

// SendText sends plain text (escaped, never parsed as markup), e.g. a test
// notification or a reply to a person's message, and returns its id.
func (c *Client) SendText(ctx context.Context, chatID int64, text string) (int, error) {
	if chatID == 0 {
		return 0, fmt.Errorf("%w: chat id is required", ErrInvalid)
	}
	text = truncateUTF16(clean(text), MaxText)
	if strings.TrimSpace(text) == "" {
		return 0, fmt.Errorf("%w: text is empty", ErrInvalid)
	}
	var m Message
	err := c.call(ctx, "sendMessage", sendMessageParams{
		ChatID: chatID, Text: escapeHTML(text), ParseMode: "HTML",
		LinkPreviewOptions: &linkPreviewOptions{IsDisabled: true},
	}, &m, callTimeout)
	if err != nil {
		return 0, err
	}
	return m.MessageID, nil
}

// EditKeyboard replaces the keyboard of a message, e.g. with the one a Toggle
// carries. An edit that changes nothing counts as done.
func (c *Client) EditKeyboard(ctx context.Context, chatID int64, messageID int, kb *InlineKeyboardMarkup) error {
	if kb == nil {
		kb = &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{}}
	}
	err := c.call(ctx, "editMessageReplyMarkup", struct {
		ChatID      int64                 `json:"chat_id"`
		MessageID   int                   `json:"message_id"`
		ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup"`
	}{chatID, messageID, kb}, nil, callTimeout)
	if IsNotModified(err) {
		return nil
	}
	return err
}

// EditClosed rewrites the message of question q to say how the session ended
// — answered (with the answer), expired or cancelled — and removes its
// keyboard, so nothing can be pressed any more. Repeating it is harmless:
// an edit that changes nothing counts as done.
func (c *Client) EditClosed(ctx context.Context, chatID int64, messageID int, q Question, o Outcome) error {
	text, err := q.renderClosed(o)
	if err != nil {
		return err
	}
	err = c.call(ctx, "editMessageText", editMessageTextParams{
		ChatID: chatID, MessageID: messageID, Text: text, ParseMode: "HTML",
		LinkPreviewOptions: &linkPreviewOptions{IsDisabled: true},
	}, nil, callTimeout)
	if IsNotModified(err) {
		return nil
	}
	return err
}

// MaxCallbackAnswer is Telegram's limit on the text of answerCallbackQuery.
const MaxCallbackAnswer = 200

// AnswerCallback answers a button press, which stops the button's spinner;
// a non-empty text shows as a short notice. Telegram expects an answer to
// every press, even one that changes nothing.
func (c *Client) AnswerCallback(ctx context.Context, callbackID, text string) error {
	if callbackID == "" {
		return fmt.Errorf("%w: callback query id is required", ErrInvalid)
	}
	return c.call(ctx, "answerCallbackQuery", struct {
		CallbackQueryID string `json:"callback_query_id"`
		Text            string `json:"text,omitempty"`
	}{callbackID, truncateRunes(clean(text), MaxCallbackAnswer)}, nil, callTimeout)
}

// allowedUpdates are the update kinds feedbackd acts on.
var allowedUpdates = []string{"message", "callback_query"}

// GetUpdates long-polls for updates with an id ≥ offset, waiting up to
// timeout (whole seconds, at most 50 s) for one to arrive. Asking with an
// offset confirms every update below it: Telegram will not send those again.
func (c *Client) GetUpdates(ctx context.Context, offset int64, timeout time.Duration) ([]Update, error) {
	return c.getUpdates(ctx, offset, 100, timeout)
}

func (c *Client) getUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration) ([]Update, error) {
	timeout = min(max(timeout, 0), maxPollTimeout)
	var ups []Update
	err := c.call(ctx, "getUpdates", struct {
		Offset         int64    `json:"offset,omitempty"`
		Limit          int      `json:"limit"`
		Timeout        int      `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, limit, int(timeout / time.Second), allowedUpdates}, &ups, timeout+callTimeout)
	return ups, err
}

// SetWebhook has Telegram deliver updates to url (it must be https) with
// secret in the X-Telegram-Bot-Api-Secret-Token header; getUpdates stops
// working until DeleteWebhook.
func (c *Client) SetWebhook(ctx context.Context, url, secret string) error {
	if !validSecret(secret) {
		return fmt.Errorf("%w: webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -", ErrInvalid)
	}
	return c.call(ctx, "setWebhook", struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{url, secret, allowedUpdates}, nil, callTimeout)
}

// DeleteWebhook removes the webhook, so that getUpdates works again. Pending
// updates are kept.
func (c *Client) DeleteWebhook(ctx context.Context) error {
	return c.call(ctx, "deleteWebhook", struct{}{}, nil, callTimeout)
}

// GetWebhookInfo returns the webhook's URL (empty when long polling) and its
// delivery state.
func (c *Client) GetWebhookInfo(ctx context.Context) (WebhookInfo, error) {
	var info WebhookInfo
	err := c.call(ctx, "getWebhookInfo", struct{}{}, &info, callTimeout)
	return info, err
}
