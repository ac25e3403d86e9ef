package dispatch

import (
	"strings"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// The words of notifications to people. They are English for now; the
// inbox settings will carry a language when the channels are translated.

// headline is the one line a notification leads with, at most max
// characters: the session's title; else, for an approval, "Approve:
// <action>?"; else the first non-blank line of the question.
func headline(s *sessions.Session, max int) string {
	if t := strings.TrimSpace(s.Title); t != "" {
		return cut(t, max)
	}
	if s.Approval != nil {
		return cut(approvalLine(s.Approval), max)
	}
	for line := range strings.Lines(s.Message) {
		if t := strings.TrimSpace(line); t != "" {
			return cut(t, max)
		}
	}
	return "A question for you"
}

// approvalLine is how an approval is put to a person.
func approvalLine(a *sessions.Approval) string {
	return "Approve: " + strings.TrimSpace(a.Action) + "?"
}

// bodyText is what a notification says under its headline: the message;
// for an approval, the approval line first when the headline is a title,
// and the line alone when there is no message.
func bodyText(s *sessions.Session) string {
	msg := strings.TrimSpace(s.Message)
	if s.Approval == nil {
		return msg
	}
	line := approvalLine(s.Approval)
	switch {
	case msg == "":
		return line
	case strings.TrimSpace(s.Title) != "":
		return line + "\n\n" + msg
	}
	return msg
}

// cut shortens s to at most max characters, marking the cut.
func cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// ending says how a session ended.
func ending(e channels.Event) string {
	switch e {
	case channels.EventCompleted:
		return "Answered"
	case channels.EventExpired:
		return "Expired without an answer"
	case channels.EventCancelled:
		return "Cancelled by the agent"
	}
	return ""
}
