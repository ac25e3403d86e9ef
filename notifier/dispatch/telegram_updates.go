package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
)

// What a person is told in the chat. The words are English, as the
// notifications are.
const (
	tgAnswered      = "Answered ✅"
	tgAlready       = "Already answered"
	tgExpired       = "Expired: this question can no longer be answered"
	tgCancelled     = "Cancelled: the question was withdrawn"
	tgGone          = "This question no longer exists"
	tgNotOurs       = "This is not a question feedbackd can find"
	tgPickFirst     = "Tick at least one option, then press Send"
	tgFormNeedsPage = "This question is a form, which needs its page: "
	tgApprovalReply = "Press Approve or Deny on the question to answer it, or open "
)

// handleTelegramUpdate acts on one update from the bot's chats, from the
// long poll or the webhook stream: a press answers (or toggles, or sends) the
// question of the pressed message, a reply answers it with free text. A
// press or reply counts only on a message the bot sent for that very
// session, which the dispatcher recorded when it sent it: no chat can answer
// another principal's question. Every answer goes through
// sessions.Service.Submit, the compare-and-swap every answer takes.
//
// It returns an error only when the update should come again (storage
// unreachable); anything it cannot act on is logged and dropped. Handling
// an update twice is harmless: the second answer finds the session
// answered.
func (d *Dispatcher) handleTelegramUpdate(ctx context.Context, u telegram.Update) error {
	chat := updateChat(u)
	act, err := telegram.ParseUpdate(u, chat)
	if err != nil {
		if cq := u.CallbackQuery; cq != nil && cq.ID != "" {
			d.answerPress(ctx, cq.ID, tgNotOurs)
		}
		if m := u.Message; m != nil && m.ReplyToMessage == nil && isStart(m.Text) {
			d.greet(ctx, m.Chat)
		}
		d.log.Debug("telegram: update ignored", "update", u.UpdateID, "why", err)
		return nil
	}
	switch a := act.(type) {
	case telegram.Choose:
		return d.onChoose(ctx, a)
	case telegram.Toggle:
		return d.onToggle(ctx, a)
	case telegram.Send:
		return d.onSend(ctx, a)
	case telegram.Reply:
		// Only a reply to a message sent moments ago may be waiting for
		// its record: a reply to an old one is not made to wait.
		var fresh bool
		if r := u.Message.ReplyToMessage; r != nil && r.Date > 0 {
			fresh = time.Since(time.Unix(r.Date, 0)) < 30*time.Second
		}
		return d.onReply(ctx, a, fresh)
	}
	return nil
}

// updateChat is the chat an update comes from; ParseUpdate is asked to
// accept it, as every chat a principal set up is the bot's to serve.
// Whether the update may touch a session is decided by the message it
// acts on.
func updateChat(u telegram.Update) int64 {
	switch {
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
		return u.CallbackQuery.Message.Chat.ID
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.EditedMessage != nil:
		return u.EditedMessage.Chat.ID
	}
	return 0
}

// pressed returns the session of the pressed message if it is the one the
// button names; nil when the message is not feedbackd's question for it.
func (d *Dispatcher) pressed(ctx context.Context, p telegram.Press) (*sessions.Session, error) {
	return d.asked(ctx, p.ChatID, p.MessageID, p.Session, false)
}

// asked returns the session the bot's message (chat, message) asks, which
// must be claimed when claimed is not empty (the session its buttons
// name); nil when the message asks no session, or another one.
//
// The message's record is written just after Telegram accepted it, so a
// press or reply may come before it. A message with buttons names its
// session, which is then accepted if its owner has this very chat as its
// Telegram destination; for one without, a fresh message's record is
// waited for a moment.
func (d *Dispatcher) asked(ctx context.Context, chat int64, message int, claimed string, fresh bool) (*sessions.Session, error) {
	id, ok, err := d.records.chatMessage(ctx, chat, message)
	for wait := 0; err == nil && !ok && claimed == "" && fresh && wait < 10; wait++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		id, ok, err = d.records.chatMessage(ctx, chat, message)
	}
	switch {
	case err != nil:
		return nil, err
	case ok && claimed != "" && id != claimed:
		d.log.Warn("telegram: a press on a message that asks another session; refused", "chat", chat, "message", message, "session", claimed)
		return nil, nil
	case !ok && claimed == "":
		return nil, nil
	case ok:
		return d.session(ctx, id)
	}
	s, err := d.session(ctx, claimed)
	if err != nil || s == nil {
		return nil, err
	}
	if mine, err := d.ownersChat(ctx, s.Owner, chat); err != nil || !mine {
		if err == nil {
			d.log.Warn("telegram: a press naming a session of another chat; refused", "chat", chat, "message", message, "session", claimed)
		}
		return nil, err
	}
	return s, nil
}

// ownersChat reports whether chat is owner's Telegram destination.
func (d *Dispatcher) ownersChat(ctx context.Context, owner string, chat int64) (bool, error) {
	dests, err := d.cfg.Channels.Destinations(ctx, owner)
	if err != nil {
		return false, err
	}
	want := strconv.FormatInt(chat, 10)
	for _, dest := range dests {
		if dest.Telegram != nil && dest.Telegram.ChatID == want {
			return true, nil
		}
	}
	return false, nil
}

// session reads a session; nil when it no longer exists.
func (d *Dispatcher) session(ctx context.Context, id string) (*sessions.Session, error) {
	s, err := d.cfg.Service.Get(ctx, id)
	switch sessions.ErrorCode(err) {
	case "":
		return s, nil
	case sessions.CodeNotFound:
		return nil, nil
	}
	return nil, fmt.Errorf("read session %s: %w", id, err)
}

func (d *Dispatcher) onChoose(ctx context.Context, a telegram.Choose) error {
	s, err := d.pressed(ctx, a.Press)
	if err != nil || s == nil {
		if err == nil {
			d.answerPress(ctx, a.CallbackID, tgNotOurs)
		}
		return err
	}
	var req sessions.SubmitRequest
	switch {
	case s.Approval != nil && a.Option < len(approvalButtons):
		req.Decision = sessions.DecisionApprove
		if a.Option == 1 {
			req.Decision = sessions.DecisionDeny
		}
	case s.Approval == nil && a.Option < len(s.PredefinedOptions):
		req.SelectedOptions = []string{s.PredefinedOptions[a.Option]}
	default:
		d.answerPress(ctx, a.CallbackID, tgNotOurs)
		return nil
	}
	return d.submitPress(ctx, a.CallbackID, s, &req)
}

func (d *Dispatcher) onToggle(ctx context.Context, a telegram.Toggle) error {
	s, err := d.pressed(ctx, a.Press)
	if err != nil || s == nil {
		if err == nil {
			d.answerPress(ctx, a.CallbackID, tgNotOurs)
		}
		return err
	}
	if s.Status != sessions.StatusPending {
		d.answerPress(ctx, a.CallbackID, endedText(s.Status))
		return nil
	}
	// The new selection lives in the keyboard itself, so the next press,
	// on any replica, reads it from there.
	if err := d.cfg.Telegram.Client.EditKeyboard(ctx, a.ChatID, a.MessageID, a.Keyboard); err != nil {
		d.log.Warn("telegram: showing a toggled option failed", "session", s.ID, "err", err)
		if telegram.IsTransient(err) {
			return fmt.Errorf("edit keyboard: %w", err)
		}
	}
	d.answerPress(ctx, a.CallbackID, "")
	return nil
}

func (d *Dispatcher) onSend(ctx context.Context, a telegram.Send) error {
	s, err := d.pressed(ctx, a.Press)
	if err != nil || s == nil {
		if err == nil {
			d.answerPress(ctx, a.CallbackID, tgNotOurs)
		}
		return err
	}
	if s.Status != sessions.StatusPending {
		d.answerPress(ctx, a.CallbackID, endedText(s.Status))
		return nil
	}
	opts := pick(s.PredefinedOptions, a.Selected)
	if len(opts) == 0 {
		d.answerPress(ctx, a.CallbackID, tgPickFirst)
		return nil
	}
	return d.submitPress(ctx, a.CallbackID, s, &sessions.SubmitRequest{SelectedOptions: opts})
}

// pick returns the options at the indexes given, ignoring any out of range.
func pick(options []string, idx []int) []string {
	var out []string
	for _, i := range idx {
		if i >= 0 && i < len(options) {
			out = append(out, options[i])
		}
	}
	return out
}

// submitPress answers s with req and tells the person how it went on the
// pressed button.
func (d *Dispatcher) submitPress(ctx context.Context, callbackID string, s *sessions.Session, req *sessions.SubmitRequest) error {
	text, err := d.submit(ctx, s, req)
	if err != nil {
		return err
	}
	d.answerPress(ctx, callbackID, text)
	return nil
}

// submit answers s with req and says, for the person, how it went. The
// error is for a failure that may pass (storage), to try the update again.
func (d *Dispatcher) submit(ctx context.Context, s *sessions.Session, req *sessions.SubmitRequest) (string, error) {
	_, err := d.cfg.Service.Submit(ctx, s.ID, req)
	var e *sessions.Error
	switch code := sessions.ErrorCode(err); {
	case code == "":
		d.log.Info("telegram: session answered", "session", s.ID)
		return tgAnswered, nil
	case code == sessions.CodeAlreadySubmitted:
		return tgAlready, nil
	case code == sessions.CodeExpired:
		return tgExpired, nil
	case code == sessions.CodeCancelled:
		return tgCancelled, nil
	case code == sessions.CodeNotFound:
		return tgGone, nil
	case code == sessions.CodeInvalidRequest && errors.As(err, &e):
		return "Not accepted: " + e.Message, nil
	}
	return "", fmt.Errorf("submit session %s: %w", s.ID, err)
}

func endedText(st sessions.Status) string {
	switch st {
	case sessions.StatusExpired:
		return tgExpired
	case sessions.StatusCancelled:
		return tgCancelled
	}
	return tgAlready
}

func (d *Dispatcher) onReply(ctx context.Context, a telegram.Reply, fresh bool) error {
	s, err := d.asked(ctx, a.ChatID, a.ReplyToMessageID, a.Session, fresh)
	if err != nil || s == nil {
		if err == nil {
			d.log.Debug("telegram: a reply to a message that is not a question; ignored", "chat", a.ChatID, "message", a.ReplyToMessageID)
		}
		return err
	}
	var text string
	switch {
	case s.Status != sessions.StatusPending:
		text = endedText(s.Status)
	case s.Fields != nil:
		text = tgFormNeedsPage + d.link(s.ID)
	case s.Approval != nil:
		text = tgApprovalReply + d.link(s.ID)
	default:
		free := a.Text
		req := &sessions.SubmitRequest{FreeText: &free, SelectedOptions: pick(s.PredefinedOptions, a.Selected)}
		if text, err = d.submit(ctx, s, req); err != nil {
			return err
		}
		if text == tgAnswered {
			return nil // the question's message now says so
		}
	}
	if _, err := d.cfg.Telegram.Client.SendText(ctx, a.ChatID, text); err != nil {
		d.log.Warn("telegram: answering a reply failed", "chat", a.ChatID, "err", err)
	}
	return nil
}

// answerPress stops a pressed button's spinner, with a notice when text is
// not empty. Telegram wants an answer to every press; one that fails (the
// press is too old, or was answered when the update came before) changes
// nothing for the person.
func (d *Dispatcher) answerPress(ctx context.Context, callbackID, text string) {
	if err := d.cfg.Telegram.Client.AnswerCallback(ctx, callbackID, text); err != nil {
		d.log.Debug("telegram: answering a press failed", "err", err)
	}
}

// isStart reports whether text is /start or /chatid (also addressed as
// /start@bot), what a person sends a bot to begin.
func isStart(text string) bool {
	cmd, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	return cmd == "/start" || cmd == "/chatid"
}

// greet tells a person who started the bot the chat id to put into their
// settings: the one thing they need to get questions here.
func (d *Dispatcher) greet(ctx context.Context, chat telegram.Chat) {
	text := "Hello! This chat's id is " + strconv.FormatInt(chat.ID, 10) +
		". Enter it as your Telegram chat id in feedbackd's settings (or as TELEGRAM_CHAT_ID) to get questions here."
	if _, err := d.cfg.Telegram.Client.SendText(ctx, chat.ID, text); err != nil {
		d.log.Debug("telegram: greeting failed", "chat", chat.ID, "err", err)
	}
}

// startTelegram starts receiving the bot's updates for this run: under the
// poll lock (poll mode), or from TelegramStream after registering the
// webhook (webhook mode). stop ends it and waits; closed is closed if
// consuming the stream breaks, nil in poll mode.
func (d *Dispatcher) startTelegram(ctx context.Context, updates jetstream.Consumer) (stop func(), closed <-chan struct{}, err error) {
	tg := d.cfg.Telegram
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if tg.WebhookURL == "" {
		go func() {
			defer close(done)
			d.pollTelegram(ctx)
		}()
		return func() { cancel(); <-done }, nil, nil
	}
	pool, err := natsutil.Consume(ctx, updates, natsutil.PoolOptions{Workers: 4, OpTimeout: 30 * time.Second, Log: d.log}, d.telegramFromStream)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("consume Telegram updates: %w", err)
	}
	go func() {
		defer close(done)
		d.registerWebhook(ctx)
	}()
	return func() { cancel(); pool.Stop(); <-done }, pool.Closed(), nil
}

// pollTelegram long-polls getUpdates whenever this replica holds the poll
// lock, until ctx ends. A replica that dies stops refreshing the lock, and
// another takes over within its TTL.
func (d *Dispatcher) pollTelegram(ctx context.Context) {
	tg := d.cfg.Telegram
	js := d.cfg.JetStream
	var lock *natsutil.Lock
	for wait := 250 * time.Millisecond; lock == nil; wait = min(2*wait, maxBackoff) {
		octx, cancel := context.WithTimeout(ctx, setupTimeout)
		kv, err := natsutil.OpenLocks(octx, js, d.cfg.Replicas)
		cancel()
		if err == nil {
			lock, err = natsutil.NewLock(js, kv, TelegramPollLock, tg.LockTTL, natsutil.WithLockLogger(d.log))
		}
		if err != nil {
			d.log.Warn("telegram: cannot open the poll lock; retrying", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
	_ = lock.Run(ctx, func(ctx context.Context) {
		// A webhook left by an earlier configuration would make every
		// getUpdates fail with 409 Conflict.
		if info, err := tg.Client.GetWebhookInfo(ctx); err == nil && info.URL != "" {
			if err := tg.Client.DeleteWebhook(ctx); err != nil {
				d.log.Warn("telegram: removing the webhook of an earlier configuration failed", "err", err)
			}
		}
		d.log.Info("telegram: polling for updates")
		p := telegram.Poller{Client: tg.Client, Handle: d.handleTelegramUpdate, Timeout: tg.PollTimeout, Log: d.log}
		_ = p.Run(ctx)
		d.log.Info("telegram: stopped polling")
	})
}

// registerWebhook has Telegram post updates to the edge, retrying until it
// succeeds or ctx ends. Every replica does it as it starts; the call is
// idempotent.
func (d *Dispatcher) registerWebhook(ctx context.Context) {
	tg := d.cfg.Telegram
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		err := tg.Client.SetWebhook(ctx, tg.WebhookURL, tg.WebhookSecret)
		if err == nil {
			d.log.Info("telegram: updates go to the webhook", "url", tg.WebhookURL)
			return
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("telegram: setWebhook failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// telegramFromStream handles one update the edge published.
func (d *Dispatcher) telegramFromStream(ctx context.Context, m jetstream.Msg) {
	var u telegram.Update
	if err := json.Unmarshal(m.Data(), &u); err != nil || u.UpdateID <= 0 {
		d.log.Warn("telegram: dropping an undecodable update", "err", err)
		_ = m.Term()
		return
	}
	if err := d.handleTelegramUpdate(ctx, u); err != nil {
		d.log.Warn("telegram: handling an update failed; it will come again", "update", u.UpdateID, "err", err)
		_ = m.NakWithDelay(retryDelay(m))
		return
	}
	ack(d.log, m)
}

// PublishTelegramUpdate stores one update that Telegram posted to the
// edge's webhook, for a dispatcher replica to handle. Telegram retries a
// webhook until it is answered 2xx; the update id is the message id, so an
// update posted twice within two minutes is stored once.
func PublishTelegramUpdate(ctx context.Context, js jetstream.JetStream, updateID int64, raw []byte) error {
	msg := nats.NewMsg(TelegramSubject)
	msg.Data = raw
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("tg_"+strconv.FormatInt(updateID, 10))); err != nil {
		return fmt.Errorf("publish Telegram update: %w", err)
	}
	return nil
}
