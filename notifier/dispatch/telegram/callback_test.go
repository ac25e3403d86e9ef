package telegram

import (
	"strings"
	"testing"
)

func TestCallbackTokensFitAndRoundTrip(t *testing.T) {
	longest := strings.Repeat("s", MaxSessionID)
	for _, data := range []string{
		chooseData(longest, MaxOptions-1),
		toggleData(longest, MaxOptions-1, true),
		toggleData(longest, 0, false),
		sendData(longest),
	} {
		if len(data) > MaxCallbackData {
			t.Errorf("%q is %d bytes, over Telegram's %d", data, len(data), MaxCallbackData)
		}
		cb, err := parseCallback(data)
		if err != nil || cb.session != longest {
			t.Errorf("%q: %+v, %v", data, cb, err)
		}
	}
	cb, err := parseCallback(toggleData("abc", 42, true))
	if err != nil || cb.verb != 't' || cb.option != 42 || !cb.on {
		t.Fatalf("toggle: %+v %v", cb, err)
	}
}

func FuzzParseCallbackData(f *testing.F) {
	for _, s := range []string{"c:abc:0", "t:abc:97:1", "s:abc", "c:abc:01", "x:y", "", ":", "t:a:1:1:1", "c:" + strings.Repeat("a", 60) + ":1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		cb, err := parseCallback(data)
		if err != nil {
			return
		}
		// What is accepted is exactly what this package writes.
		var again string
		switch cb.verb {
		case 'c':
			again = chooseData(cb.session, cb.option)
		case 't':
			again = toggleData(cb.session, cb.option, cb.on)
		case 's':
			again = sendData(cb.session)
		default:
			t.Fatalf("accepted verb %q", cb.verb)
		}
		if again != data || len(data) > MaxCallbackData || cb.option < 0 || cb.option >= MaxOptions {
			t.Fatalf("%q parsed to %+v, which encodes as %q", data, cb, again)
		}
	})
}

func FuzzRenderQuestion(f *testing.F) {
	f.Add("Title", "Message <b>", "opt&1", false)
	f.Add("", "😀\xff\x00", "<", true)
	f.Fuzz(func(t *testing.T, title, message, option string, multi bool) {
		q := Question{SessionID: "abc", Title: title, Message: message, Options: []string{option}, MultiSelect: multi, URL: "https://x.example/f"}
		text, kb, err := q.render(q.ExpiresAt)
		if err != nil {
			return
		}
		// The text must carry exactly the markup this package adds.
		stripped := strings.NewReplacer("<b>", "", "</b>", "").Replace(text)
		if strings.ContainsAny(stripped, "<>") {
			t.Fatalf("unescaped markup in %q", text)
		}
		if strings.Count(text, "<b>") != strings.Count(text, "</b>") {
			t.Fatalf("unbalanced bold in %q", text)
		}
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if len(b.CallbackData) > MaxCallbackData {
					t.Fatalf("callback data %q too long", b.CallbackData)
				}
			}
		}
	})
}
