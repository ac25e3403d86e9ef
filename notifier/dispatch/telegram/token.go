package telegram

import (
	"fmt"
	"log/slog"
	"regexp"
)

// Token is a bot token. It is a secret: it prints, formats and logs as
// "[redacted]"; string(t) is the only way to the value, and only the client
// uses it, to build request URLs.
type Token string

const redacted = "[redacted]"

// tokenPattern is the shape of a bot token: the bot's numeric id, a colon,
// and a secret of URL-safe characters. Anything else could change the request
// path, so it is refused.
var tokenPattern = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,128}$`)

// Valid reports whether t has the shape of a bot token.
func (t Token) Valid() bool { return tokenPattern.MatchString(string(t)) }

// String returns "[redacted]".
func (t Token) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (t Token) GoString() string { return redacted }

// Format prints "[redacted]" for every verb, so that no format of a struct
// holding a token shows it.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the token out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }
