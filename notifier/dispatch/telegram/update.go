package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Why an update leads to no action. Both wrap nothing; compare with
// errors.Is.
var (
	// ErrForeignChat: the update comes from a chat other than the
	// configured one. It must not answer anything.
	ErrForeignChat = errors.New("telegram: update from a chat other than the configured one")
	// ErrIgnored: the update carries nothing feedbackd acts on (a message
	// that replies to nothing, a sticker, an edit, a bot's message, a press
	// on a message too old to read).
	ErrIgnored = errors.New("telegram: update carries nothing to act on")
)

// Action is what a person did, parsed from an Update by ParseUpdate: one of
// Choose, Toggle, Send or Reply.
type Action interface{ action() }

// Press is what every button press carries. The receiver must answer
// CallbackID (AnswerCallback) whatever it does with the press.
type Press struct {
	CallbackID string
	ChatID     int64
	MessageID  int
	From       User
	// Session is the session id the pressed button belongs to.
	Session string
}

// Choose is the press of an option of a single-choice question: answer the
// session with option Option.
type Choose struct {
	Press
	Option int
}

// Toggle is the press of an option of a multi-select question. On is the
// option's new state and Keyboard the message's keyboard with that change
// made: the receiver shows it with EditKeyboard. The new state is computed
// from the pressed button, so handling the same press twice gives the same
// keyboard.
type Toggle struct {
	Press
	Option   int
	On       bool
	Keyboard *InlineKeyboardMarkup
}

// Send is the press of Send under a multi-select question: answer the
// session with the options that are on, read from the message's keyboard
// (ascending indexes; possibly none — the receiver should then ask for a
// choice instead of answering).
type Send struct {
	Press
	Selected []int
}

// Reply is a text message that replies to another message: a free-text
// answer to the question that message shows. Session is set when the
// replied-to message still carries feedbackd buttons (Telegram includes its
// keyboard); otherwise the receiver finds the session by (ChatID,
// ReplyToMessageID), as recorded when the question was sent. Selected are the
// options ticked on a multi-select question at the time of the reply.
type Reply struct {
	ChatID           int64
	MessageID        int
	ReplyToMessageID int
	From             User
	Text             string
	Session          string
	Selected         []int
}

func (Choose) action() {}
func (Toggle) action() {}
func (Send) action()   {}
func (Reply) action()  {}

// ParseUpdate turns an update into the action it asks for, accepting only
// updates from chatID. It is transport-free: the long poll and the webhook
// route both use it. Errors: ErrForeignChat, ErrIgnored, or ErrInvalid for
// callback data that is not feedbackd's. A callback query that yields an
// error should still be answered (its id is u.CallbackQuery.ID) unless it is
// foreign.
func ParseUpdate(u Update, chatID int64) (Action, error) {
	switch {
	case u.CallbackQuery != nil:
		return parsePress(u.CallbackQuery, chatID)
	case u.Message != nil:
		return parseReply(u.Message, chatID)
	case u.EditedMessage != nil:
		if u.EditedMessage.Chat.ID != chatID {
			return nil, ErrForeignChat
		}
		return nil, fmt.Errorf("%w: an edited message", ErrIgnored)
	}
	return nil, fmt.Errorf("%w: an update of a kind not asked for", ErrIgnored)
}

func parsePress(cq *CallbackQuery, chatID int64) (Action, error) {
	m := cq.Message
	if m == nil {
		// A press on a message sent in inline mode: not ours.
		return nil, fmt.Errorf("%w: a press without a message", ErrIgnored)
	}
	if m.Chat.ID != chatID {
		return nil, ErrForeignChat
	}
	cb, err := parseCallback(cq.Data)
	if err != nil {
		return nil, err
	}
	p := Press{CallbackID: cq.ID, ChatID: m.Chat.ID, MessageID: m.MessageID, From: cq.From, Session: cb.session}
	switch cb.verb {
	case 'c':
		return Choose{Press: p, Option: cb.option}, nil
	case 't':
		if m.Date == 0 || m.ReplyMarkup == nil {
			return nil, fmt.Errorf("%w: a toggle on a message too old to read", ErrIgnored)
		}
		kb, ok := toggled(m.ReplyMarkup, cq.Data, cb)
		if !ok {
			return nil, fmt.Errorf("%w: pressed toggle %q is not on its message", ErrInvalid, cq.Data)
		}
		return Toggle{Press: p, Option: cb.option, On: !cb.on, Keyboard: kb}, nil
	default: // 's'
		if m.Date == 0 || m.ReplyMarkup == nil {
			return nil, fmt.Errorf("%w: a send on a message too old to read", ErrIgnored)
		}
		return Send{Press: p, Selected: selected(m.ReplyMarkup, cb.session)}, nil
	}
}

func parseReply(m *Message, chatID int64) (Action, error) {
	if m.Chat.ID != chatID {
		return nil, ErrForeignChat
	}
	if m.From != nil && m.From.IsBot {
		return nil, fmt.Errorf("%w: a message from a bot", ErrIgnored)
	}
	if m.ReplyToMessage == nil {
		return nil, fmt.Errorf("%w: a message that replies to nothing", ErrIgnored)
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, fmt.Errorf("%w: a reply without text", ErrIgnored)
	}
	r := Reply{ChatID: m.Chat.ID, MessageID: m.MessageID, ReplyToMessageID: m.ReplyToMessage.MessageID, Text: m.Text}
	if m.From != nil {
		r.From = *m.From
	}
	if kb := m.ReplyToMessage.ReplyMarkup; kb != nil {
		r.Session = sessionOf(kb)
		if r.Session != "" {
			r.Selected = selected(kb, r.Session)
		}
	}
	return r, nil
}

// toggled returns a copy of kb with the pressed toggle flipped, or false if
// kb has no such button.
func toggled(kb *InlineKeyboardMarkup, pressed string, cb callback) (*InlineKeyboardMarkup, bool) {
	out := kb.Clone()
	found := false
	for _, row := range out.InlineKeyboard {
		for j := range row {
			if row[j].CallbackData != pressed {
				continue
			}
			found = true
			label := strings.TrimPrefix(strings.TrimPrefix(row[j].Text, boxOn), boxOff)
			if cb.on {
				row[j].Text = boxOff + label
			} else {
				row[j].Text = boxOn + label
			}
			row[j].CallbackData = toggleData(cb.session, cb.option, !cb.on)
		}
	}
	return out, found
}

// selected returns the indexes of the toggles of session that are on in kb.
func selected(kb *InlineKeyboardMarkup, session string) []int {
	var out []int
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			cb, err := parseCallback(b.CallbackData)
			if err == nil && cb.verb == 't' && cb.on && cb.session == session && !slices.Contains(out, cb.option) {
				out = append(out, cb.option)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sessionOf returns the session that kb's feedbackd buttons belong to, or ""
// if there are none or they disagree.
func sessionOf(kb *InlineKeyboardMarkup) string {
	session := ""
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == "" {
				continue
			}
			cb, err := parseCallback(b.CallbackData)
			if err != nil {
				continue
			}
			if session != "" && cb.session != session {
				return ""
			}
			session = cb.session
		}
	}
	return session
}

// MaxUpdateSize bounds the body of a webhook request. Updates are a few
// kilobytes; a text message is at most 4096 characters.
const MaxUpdateSize = 256 << 10

// DecodeUpdate reads one update from a webhook request body: a JSON object
// of at most MaxUpdateSize bytes, nothing after it.
func DecodeUpdate(r io.Reader) (Update, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxUpdateSize+1))
	if err != nil {
		return Update{}, fmt.Errorf("read update: %w", err)
	}
	if len(data) > MaxUpdateSize {
		return Update{}, fmt.Errorf("%w: update larger than %d bytes", ErrInvalid, MaxUpdateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var u Update
	if err := dec.Decode(&u); err != nil {
		return Update{}, fmt.Errorf("%w: update is not a JSON object: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Update{}, fmt.Errorf("%w: data after the update", ErrInvalid)
	}
	if u.UpdateID <= 0 {
		return Update{}, fmt.Errorf("%w: update_id missing", ErrInvalid)
	}
	return u, nil
}
