package telegram

import (
	"fmt"
	"strconv"
	"strings"
)

// Callback data is what a button sends back when pressed. Telegram allows at
// most 64 bytes, so it carries a compact token, never text:
//
//	c:<sessionId>:<i>        choose option i (single choice): answers at once
//	t:<sessionId>:<i>:<0|1>  option i of a multi-select question, now off|on;
//	                         pressing it flips it
//	s:<sessionId>            send the options that are on
//
// i is the option's index, 0–97, in decimal without leading zeros. A session
// id is up to 48 characters of A-Z a-z 0-9 _ - (feedbackd's are 36), so the
// longest token, a toggle, is 2+48+1+2+2 = 55 bytes. The on/off state lives in
// the toggle buttons themselves, so the keyboard of the pressed message is
// the whole selection and any replica can handle the next press.

const (
	// MaxCallbackData is Telegram's limit on a button's callback data.
	MaxCallbackData = 64
	// MaxSessionID is the longest session id a callback token can carry.
	MaxSessionID = 48
	// MaxOptions is the most options a question may have: Telegram allows
	// 100 buttons, less Send and Open.
	MaxOptions = 98
)

// callback is a decoded callback token.
type callback struct {
	verb    byte // 'c', 't' or 's'
	session string
	option  int  // c and t
	on      bool // t: the state shown when pressed
}

func chooseData(session string, i int) string { return "c:" + session + ":" + strconv.Itoa(i) }

func toggleData(session string, i int, on bool) string {
	s := "0"
	if on {
		s = "1"
	}
	return "t:" + session + ":" + strconv.Itoa(i) + ":" + s
}

func sendData(session string) string { return "s:" + session }

// validSessionID reports whether id can travel in callback data.
func validSessionID(id string) bool {
	if id == "" || len(id) > MaxSessionID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseIndex parses an option index: 1–2 digits, no leading zero, < MaxOptions.
func parseIndex(s string) (int, bool) {
	if len(s) == 0 || len(s) > 2 || (len(s) == 2 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n < MaxOptions
}

// parseCallback decodes callback data; anything not written by this package
// is refused.
func parseCallback(data string) (callback, error) {
	bad := func(why string) (callback, error) {
		return callback{}, fmt.Errorf("%w: callback data %q: %s", ErrInvalid, truncateRunes(data, 70), why)
	}
	if len(data) > MaxCallbackData {
		return bad("longer than 64 bytes")
	}
	parts := strings.Split(data, ":")
	if len(parts) < 2 || len(parts[0]) != 1 {
		return bad("not a feedbackd token")
	}
	cb := callback{verb: parts[0][0], session: parts[1]}
	if !validSessionID(cb.session) {
		return bad("bad session id")
	}
	var ok bool
	switch cb.verb {
	case 'c':
		if len(parts) != 3 {
			return bad("want c:<session>:<option>")
		}
		if cb.option, ok = parseIndex(parts[2]); !ok {
			return bad("bad option index")
		}
	case 't':
		if len(parts) != 4 {
			return bad("want t:<session>:<option>:<0|1>")
		}
		if cb.option, ok = parseIndex(parts[2]); !ok {
			return bad("bad option index")
		}
		switch parts[3] {
		case "0":
		case "1":
			cb.on = true
		default:
			return bad("toggle state must be 0 or 1")
		}
	case 's':
		if len(parts) != 2 {
			return bad("want s:<session>")
		}
	default:
		return bad("unknown verb")
	}
	return cb, nil
}
