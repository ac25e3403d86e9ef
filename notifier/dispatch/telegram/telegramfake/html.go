package telegramfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// supportedTags are the tags of Telegram's HTML parse mode
// (https://core.telegram.org/bots/api#html-style). Any other tag makes
// Telegram refuse the message.
var supportedTags = map[string]bool{
	"a": true, "b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "tg-emoji": true,
	"code": true, "pre": true, "blockquote": true,
}

// parseHTML returns the visible text of an HTML-mode message, or the error
// Telegram gives after "Bad Request: can't parse entities: ". It follows the
// rules of Telegram's parser (tdlib's parse_html): a '<' always starts a tag,
// which must be supported and closed in order; '&' starts an entity only when
// one of &lt; &gt; &amp; &quot; or a numeric one follows, and is literal
// otherwise.
func parseHTML(text string) (string, error) {
	var out strings.Builder
	var stack []string
	i, n := 0, len(text)
	for i < n {
		c := text[i]
		if c == '&' {
			if r, l := decodeEntity(text[i:]); l > 0 {
				out.WriteRune(r)
				i += l
				continue
			}
		}
		if c != '<' {
			out.WriteByte(c)
			i++
			continue
		}
		begin := i
		i++
		if i < n && text[i] == '/' {
			if len(stack) == 0 {
				return "", fmt.Errorf("Unexpected end tag at byte offset %d", begin)
			}
			i++
			j := i
			for j < n && !isSpace(text[j]) && text[j] != '>' {
				j++
			}
			name := strings.ToLower(text[i:j])
			for j < n && isSpace(text[j]) {
				j++
			}
			if j >= n || text[j] != '>' {
				return "", fmt.Errorf("Unclosed end tag at byte offset %d", begin)
			}
			top := stack[len(stack)-1]
			if name != "" && name != top {
				return "", fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top, name)
			}
			stack = stack[:len(stack)-1]
			i = j + 1
			continue
		}
		j := i
		for j < n && !isSpace(text[j]) && text[j] != '>' {
			j++
		}
		if j >= n {
			return "", fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		name := strings.ToLower(text[i:j])
		if !supportedTags[name] {
			return "", fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, begin)
		}
		attrs, end, err := parseAttributes(text, j, name, begin)
		if err != nil {
			return "", err
		}
		switch {
		case name == "span" && attrs["class"] != "tg-spoiler":
			return "", fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		case name == "tg-emoji" && attrs["emoji-id"] == "":
			return "", fmt.Errorf("Custom emoji entity must contain a valid custom emoji identifier")
		}
		stack = append(stack, name)
		i = end
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1])
	}
	return out.String(), nil
}

// parseAttributes reads name=value pairs from text[j:] up to the '>' that
// closes the start tag, and returns them with the offset after the '>'.
func parseAttributes(text string, j int, tag string, begin int) (map[string]string, int, error) {
	n := len(text)
	attrs := map[string]string{}
	for {
		for j < n && isSpace(text[j]) {
			j++
		}
		if j >= n {
			return nil, 0, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		if text[j] == '>' {
			return attrs, j + 1, nil
		}
		k := j
		for k < n && !isSpace(text[k]) && text[k] != '=' && text[k] != '>' {
			k++
		}
		if k == j {
			return nil, 0, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin)
		}
		name := strings.ToLower(text[j:k])
		j = k
		for j < n && isSpace(text[j]) {
			j++
		}
		if j >= n || text[j] != '=' {
			return nil, 0, fmt.Errorf("Expected equal sign in declaration of an attribute of the tag \"%s\" at byte offset %d", tag, begin)
		}
		j++
		for j < n && isSpace(text[j]) {
			j++
		}
		if j >= n {
			return nil, 0, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		var value string
		if q := text[j]; q == '"' || q == '\'' {
			end := strings.IndexByte(text[j+1:], q)
			if end < 0 {
				return nil, 0, fmt.Errorf("Unclosed end of an attribute value in the tag \"%s\" at byte offset %d", tag, begin)
			}
			value = text[j+1 : j+1+end]
			j += end + 2
		} else {
			k := j
			for k < n && !isSpace(text[k]) && text[k] != '>' {
				k++
			}
			value = text[j:k]
			j = k
		}
		attrs[name] = decodeEntities(value)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// decodeEntity decodes the entity at the start of s, returning the rune and
// the bytes it took, or 0 bytes if s does not start with one Telegram knows.
func decodeEntity(s string) (rune, int) {
	for name, r := range map[string]rune{"&lt;": '<', "&gt;": '>', "&amp;": '&', "&quot;": '"'} {
		if strings.HasPrefix(s, name) {
			return r, len(name)
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0
	}
	end := strings.IndexByte(s, ';')
	if end < 3 || end > 12 {
		return 0, 0
	}
	digits, base := s[2:end], 10
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || v == 0 || !utf8.ValidRune(rune(v)) {
		return 0, 0
	}
	return rune(v), end + 1
}

func decodeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if r, l := decodeEntity(s[i:]); l > 0 {
			b.WriteRune(r)
			i += l
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
