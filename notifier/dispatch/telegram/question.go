package telegram

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/pkg/timeleft"
)

// MaxText is Telegram's limit on a message's text after entity parsing, in
// UTF-16 code units (what Telegram counts as characters).
const MaxText = 4096

// maxTitle and maxButton bound agent text that has no limit of its own here.
const (
	maxTitle  = 256
	maxButton = 100
)

// Question is what SendQuestion shows. Every string in it comes from an
// agent and is escaped; none of it can add markup.
type Question struct {
	// SessionID is the session the question belongs to; it travels in the
	// buttons' callback data (see MaxSessionID).
	SessionID string
	// Title, optional, is shown in bold above the message.
	Title string
	// Message is the question itself.
	Message string
	// Options become buttons; none means a free-text question.
	Options []string
	// MultiSelect makes the options toggles with a Send button; otherwise
	// pressing an option answers.
	MultiSelect bool
	// ExpiresAt is when the question times out; shown as the time left.
	ExpiresAt time.Time
	// URL is the link to the question's page, shown in the text and, when
	// Telegram accepts it as a button URL, as an "Open" button.
	URL string
	// Hint, optional, replaces the line that says how to answer (for a
	// question that can only be answered on its page, say).
	Hint string
}

// Status is how a session ended, for EditClosed.
type Status string

// The ways a question's message can be closed.
const (
	StatusAnswered  Status = "answered"
	StatusExpired   Status = "expired"
	StatusCancelled Status = "cancelled"
)

// Outcome is what EditClosed writes under the question.
type Outcome struct {
	Status Status
	// Answer is the person's answer, shown (shortened if need be) when
	// Status is StatusAnswered.
	Answer string
}

// validate checks what would make Telegram refuse the message or make the
// buttons unusable.
func (q *Question) validate() error {
	if !validSessionID(q.SessionID) {
		return fmt.Errorf("%w: session id %q cannot travel in callback data (1-%d of A-Z a-z 0-9 _ -)", ErrInvalid, truncateRunes(q.SessionID, 60), MaxSessionID)
	}
	if strings.TrimSpace(q.Message) == "" && strings.TrimSpace(q.Title) == "" {
		return fmt.Errorf("%w: question has no text", ErrInvalid)
	}
	if len(q.Options) > MaxOptions {
		return fmt.Errorf("%w: %d options, at most %d fit a keyboard", ErrInvalid, len(q.Options), MaxOptions)
	}
	for i, o := range q.Options {
		if strings.TrimSpace(o) == "" {
			return fmt.Errorf("%w: option %d is blank", ErrInvalid, i)
		}
	}
	if q.URL != "" {
		if u, err := url.Parse(q.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: link %q is not an absolute http(s) URL", ErrInvalid, truncateRunes(q.URL, 100))
		}
	}
	return nil
}

// render returns the HTML text and the keyboard of an open question.
func (q *Question) render(now time.Time) (string, *InlineKeyboardMarkup, error) {
	if err := q.validate(); err != nil {
		return "", nil, err
	}
	var hint string
	switch {
	case len(q.Options) == 0:
		hint = "Reply to this message to answer."
	case q.MultiSelect:
		hint = "Tick the options that apply, then press Send — or reply to this message to answer in your own words."
	default:
		hint = "Press an option to answer, or reply to this message to answer in your own words."
	}
	if h := strings.TrimSpace(clean(q.Hint)); h != "" {
		hint = truncateRunes(h, maxTitle)
	}
	tail := []segment{{text: "\n\n⏳ " + timeleft.Until(q.ExpiresAt, now) + "\n" + hint}}
	if q.URL != "" {
		// The link goes in as text, not as <a href>: Telegram makes it
		// clickable itself, and it stays visible on hosts a button refuses.
		tail = append(tail, segment{text: "\n" + q.URL})
	}
	text := q.compose(tail)
	return text, q.keyboard(), nil
}

// renderClosed returns the HTML text of a question that has ended.
func (q *Question) renderClosed(o Outcome) (string, error) {
	if strings.TrimSpace(q.Message) == "" && strings.TrimSpace(q.Title) == "" {
		return "", fmt.Errorf("%w: question has no text", ErrInvalid)
	}
	var tail []segment
	switch o.Status {
	case StatusAnswered:
		tail = []segment{{text: "\n\n✅ "}, {text: "Answered", bold: true}}
		if a := strings.TrimSpace(clean(o.Answer)); a != "" {
			tail = append(tail, segment{text: ": " + a, shrink: true})
		}
	case StatusExpired:
		tail = []segment{{text: "\n\n⌛ "}, {text: "Expired", bold: true}, {text: " — no answer was given in time."}}
	case StatusCancelled:
		tail = []segment{{text: "\n\n🚫 "}, {text: "Cancelled", bold: true}, {text: " — the question was withdrawn."}}
	default:
		return "", fmt.Errorf("%w: unknown outcome %q", ErrInvalid, o.Status)
	}
	return q.compose(tail), nil
}

// compose puts the title and message before tail and shortens what may be
// shortened (the message, then an answer) until the text fits MaxText.
func (q *Question) compose(tail []segment) string {
	var segs []segment
	if t := strings.TrimSpace(clean(q.Title)); t != "" {
		segs = append(segs, segment{text: truncateRunes(t, maxTitle), bold: true}, segment{text: "\n"})
	}
	segs = append(segs, segment{text: strings.TrimSpace(clean(q.Message)), shrink: true})
	segs = append(segs, tail...)
	fit(segs, MaxText)
	var b strings.Builder
	for _, s := range segs {
		if s.text == "" {
			continue
		}
		if s.bold {
			b.WriteString("<b>" + escapeHTML(s.text) + "</b>")
		} else {
			b.WriteString(escapeHTML(s.text))
		}
	}
	return b.String()
}

// segment is a piece of a message: plain text, bold or not. Segments marked
// shrink may be shortened to make the message fit.
type segment struct {
	text   string
	bold   bool
	shrink bool
}

// fit shortens shrinkable segments, last first, until the visible text is
// at most limit UTF-16 units.
func fit(segs []segment, limit int) {
	total := 0
	for _, s := range segs {
		total += utf16Len(s.text)
	}
	for i := len(segs) - 1; i >= 0 && total > limit; i-- {
		if !segs[i].shrink {
			continue
		}
		n := utf16Len(segs[i].text)
		keep := max(n-(total-limit)-1, 0) // one unit for the ellipsis
		segs[i].text = truncateUTF16(segs[i].text, keep) + "…"
		total += utf16Len(segs[i].text) - n
	}
}

// keyboard builds the inline keyboard of an open question.
func (q *Question) keyboard() *InlineKeyboardMarkup {
	var rows [][]InlineKeyboardButton
	for i, o := range q.Options {
		if q.MultiSelect {
			rows = append(rows, []InlineKeyboardButton{{Text: toggleText(o, false), CallbackData: toggleData(q.SessionID, i, false)}})
		} else {
			rows = append(rows, []InlineKeyboardButton{{Text: buttonText(o), CallbackData: chooseData(q.SessionID, i)}})
		}
	}
	var last []InlineKeyboardButton
	if q.MultiSelect && len(q.Options) > 0 {
		last = append(last, InlineKeyboardButton{Text: "Send ✉️", CallbackData: sendData(q.SessionID)})
	}
	if ButtonURLAllowed(q.URL) {
		last = append(last, InlineKeyboardButton{Text: "Open 🔗", URL: q.URL})
	}
	if len(last) > 0 {
		rows = append(rows, last)
	}
	if len(rows) == 0 {
		return nil
	}
	return &InlineKeyboardMarkup{InlineKeyboard: rows}
}

const (
	boxOff = "☐ "
	boxOn  = "☑ "
)

func buttonText(option string) string {
	return truncateRunes(strings.TrimSpace(clean(option)), maxButton)
}

func toggleText(option string, on bool) string {
	if on {
		return boxOn + buttonText(option)
	}
	return boxOff + buttonText(option)
}

// ButtonURLAllowed reports whether Telegram accepts u as the URL of a
// button: http or https with a host that has a dot. Telegram refuses
// "localhost" and other single-label hosts (BUTTON_URL_INVALID); such a link
// is shown in the text only.
func ButtonURLAllowed(u string) bool {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return false
	}
	h := p.Hostname()
	return strings.Contains(strings.Trim(h, "."), ".")
}

// escapeHTML escapes the four characters Telegram's HTML parse mode treats
// as markup, using the entities it documents.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, `<>&"`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clean makes s valid UTF-8 (Telegram refuses anything else) and drops NUL
// and other C0 controls except newline and tab.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// truncateUTF16 returns the longest prefix of s that is at most n UTF-16
// units, cut between runes.
func truncateUTF16(s string, n int) string {
	used := 0
	for i, r := range s {
		l := max(utf16.RuneLen(r), 1)
		if used+l > n {
			return s[:i]
		}
		used += l
	}
	return s
}

// truncateRunes shortens s to n runes, the last being an ellipsis.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
