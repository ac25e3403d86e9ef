package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Values are the answers to a form: property name → the canonical JSON of
// the answer (a string, a number, true or false, or a list of strings).
// Fields left unanswered are absent.
type Values map[string]json.RawMessage

// maxValuesBytes refuses an oversized answer before reading it. Twenty
// fields of MaxFieldText characters fit with room for JSON escapes.
const maxValuesBytes = 256 << 10

// ValidateValues checks an answer against the form and returns it in
// canonical form. The rules:
//
//   - raw is a JSON object whose keys are properties of the form; null, an
//     empty string and an empty list count as no answer;
//   - every required property has an answer;
//   - types are exact: a string field takes a JSON string, an integer field
//     a whole number (3.0 is 3), a boolean field true or false, a
//     multi-select a list of distinct choices;
//   - string lengths count characters; a string holds no control characters
//     other than tab and line breaks, and at most MaxFieldText characters;
//   - formats: email is one address (local@domain.tld), uri an absolute URI
//     with a scheme, date a real calendar date YYYY-MM-DD, date-time RFC 3339;
//   - minimum, maximum, minLength, maxLength, minItems and maxItems hold, and
//     a choice is one the field offers.
//
// Errors are INVALID_REQUEST naming the field, e.g. "values.age".
func (f *FormSchema) ValidateValues(raw json.RawMessage) (Values, error) {
	const root = "values"
	if len(raw) > maxValuesBytes {
		return nil, Invalid(root, fmt.Sprintf("must be at most %d bytes of JSON", maxValuesBytes))
	}
	members, err := readObject(root, raw)
	if err != nil {
		return nil, err
	}
	out := make(Values, len(members))
	for _, m := range members {
		p, ok := f.Property(m.key)
		if !ok {
			if isFieldName(m.key) {
				return nil, Invalid(root+"."+m.key, "is not a field of this question")
			}
			return nil, Invalid(root, fmt.Sprintf("%q is not a field of this question", Preview(m.key, MaxFieldName+1)))
		}
		if noAnswer(p, m.val) {
			continue
		}
		canon, err := p.checkValue(root+"."+m.key, m.val)
		if err != nil {
			return nil, err
		}
		out[m.key] = canon
	}
	for _, p := range f.Properties {
		if _, ok := out[p.Name]; !ok && f.IsRequired(p.Name) {
			return nil, Invalid(root+"."+p.Name, "is required")
		}
	}
	return out, nil
}

// noAnswer reports whether raw leaves the field unanswered: null, or an
// empty string or list where a string or list is expected. A page sends
// empty inputs that way.
func noAnswer(p *Property, raw json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(raw)); {
	case s == "null":
		return true
	case p.Type == FieldString && s == `""`:
		return true
	case p.Type == FieldArray && len(s) >= 2 && s[0] == '[' && strings.TrimSpace(s[1:len(s)-1]) == "":
		return true
	}
	return false
}

// checkValue checks one answer (or a default) against p and returns its
// canonical JSON.
func (p *Property) checkValue(field string, raw json.RawMessage) (json.RawMessage, error) {
	switch p.Type {
	case FieldString:
		s, err := readString(field, raw)
		if err != nil {
			return nil, err
		}
		if p.IsSelect() {
			if _, ok := p.Choice(s); !ok {
				return nil, Invalid(field, "must be one of the field's choices")
			}
			return encodeJSON(s), nil
		}
		if err := p.checkString(field, s); err != nil {
			return nil, err
		}
		return encodeJSON(s), nil
	case FieldNumber, FieldInteger:
		var n float64
		if p.Type == FieldInteger {
			i, err := readInteger(field, raw)
			if err != nil {
				return nil, err
			}
			n = float64(i)
		} else {
			var err error
			if n, err = readNumber(field, raw); err != nil {
				return nil, err
			}
		}
		if p.Minimum != nil && n < *p.Minimum {
			return nil, Invalid(field, "must be at least "+formatNumber(*p.Minimum))
		}
		if p.Maximum != nil && n > *p.Maximum {
			return nil, Invalid(field, "must be at most "+formatNumber(*p.Maximum))
		}
		if n == 0 {
			n = 0 // -0 is 0
		}
		return encodeNumber(n), nil
	case FieldBoolean:
		b, err := readBool(field, raw)
		if err != nil {
			return nil, err
		}
		return encodeJSON(b), nil
	case FieldArray:
		elems, err := readArray(field, raw)
		if err != nil {
			return nil, err
		}
		if len(elems) > len(p.Choices) {
			return nil, Invalid(field, fmt.Sprintf("has %d items but there are only %d choices", len(elems), len(p.Choices)))
		}
		seen := map[string]bool{}
		out := make([]string, len(elems))
		for i, e := range elems {
			item := fmt.Sprintf("%s[%d]", field, i)
			s, err := readString(item, e)
			if err != nil {
				return nil, err
			}
			if _, ok := p.Choice(s); !ok {
				return nil, Invalid(item, "must be one of the field's choices")
			}
			if seen[s] {
				return nil, Invalid(item, "is selected twice")
			}
			seen[s] = true
			out[i] = s
		}
		if p.MinItems != nil && len(out) < *p.MinItems {
			return nil, Invalid(field, fmt.Sprintf("must have at least %d selected", *p.MinItems))
		}
		if p.MaxItems != nil && len(out) > *p.MaxItems {
			return nil, Invalid(field, fmt.Sprintf("must have at most %d selected", *p.MaxItems))
		}
		return encodeJSON(out), nil
	}
	return nil, Invalid(field, "has an unknown type")
}

func (p *Property) checkString(field, s string) error {
	maxLen := MaxFieldText
	if p.MaxLength != nil {
		maxLen = *p.MaxLength
	}
	if err := checkText(field, s, 0, maxLen); err != nil {
		return err
	}
	if p.MinLength != nil {
		if n := utf8.RuneCountInString(s); n < *p.MinLength {
			return Invalid(field, fmt.Sprintf("must be at least %d characters, got %d", *p.MinLength, n))
		}
	}
	switch p.Format {
	case FormatEmail:
		if !isEmail(s) {
			return Invalid(field, "must be an email address such as name@example.com")
		}
	case FormatURI:
		if !isAbsoluteURI(s) {
			return Invalid(field, "must be an absolute URI with a scheme, such as https://example.com/")
		}
	case FormatDate:
		if !isDate(s) {
			return Invalid(field, "must be a calendar date written YYYY-MM-DD")
		}
	case FormatDateTime:
		if !isDateTime(s) {
			return Invalid(field, "must be a date and time in RFC 3339, such as 2026-03-01T14:30:00Z")
		}
	}
	return nil
}

// isEmail is a practical check, not RFC 5322 in full: one address without a
// display name, a local part, and a domain of dot-separated labels.
func isEmail(s string) bool {
	if len(s) > 254 || strings.ContainsFunc(s, unicode.IsSpace) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") {
		return false
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') {
				return false
			}
		}
	}
	return true
}

func isAbsoluteURI(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}

func isDate(s string) bool {
	if len(s) != len("2006-01-02") {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// FormatValue renders an answer for a person or a text-only agent:
// booleans as yes/no, a choice by its title with its value in parentheses
// when they differ, lists joined by ", ", anything else as written.
func (p *Property) FormatValue(raw json.RawMessage) string {
	switch p.Type {
	case FieldBoolean:
		if string(raw) == "true" {
			return "yes"
		}
		return "no"
	case FieldArray:
		var items []string
		if json.Unmarshal(raw, &items) != nil {
			return string(raw)
		}
		for i, v := range items {
			items[i] = p.formatChoice(v)
		}
		return strings.Join(items, ", ")
	case FieldString:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return string(raw)
		}
		if p.IsSelect() {
			return p.formatChoice(s)
		}
		return s
	}
	return string(raw)
}

func (p *Property) formatChoice(v string) string {
	if c, ok := p.Choice(v); ok && c.Title != "" && c.Title != v {
		return c.Title + " (" + v + ")"
	}
	return v
}

// Describe renders answers as "Label: value" lines in the form's order,
// leaving out fields without an answer.
func (f *FormSchema) Describe(v Values) string {
	var lines []string
	for i := range f.Properties {
		p := &f.Properties[i]
		raw, ok := v[p.Name]
		if !ok {
			continue
		}
		lines = append(lines, p.Label()+": "+p.FormatValue(raw))
	}
	return strings.Join(lines, "\n")
}

// ValuesFromForm builds the JSON answer of an HTML form post, where every
// value is text: get returns the values posted for a field's name. Text
// and choices are taken as they are, numbers parsed, a multi-select takes
// every value posted, and a boolean is true when any posted value is "on",
// "true", "yes" or "1" — an unticked checkbox posts nothing, which is
// false. Empty inputs are left out. The result still goes through
// ValidateValues; the only errors here are numbers that are not numbers.
func (f *FormSchema) ValuesFromForm(get func(name string) []string) (json.RawMessage, error) {
	var w objWriter
	for i := range f.Properties {
		p := &f.Properties[i]
		posted := get(p.Name)
		first := ""
		if len(posted) > 0 {
			first = posted[0]
		}
		switch p.Type {
		case FieldString:
			if first != "" {
				w.field(p.Name, encodeJSON(first))
			}
		case FieldNumber, FieldInteger:
			s := strings.TrimSpace(first)
			if s == "" {
				continue
			}
			n, err := strconv.ParseFloat(s, 64)
			if err != nil || !isDecimal(s) {
				return nil, Invalid("values."+p.Name, "must be a number")
			}
			w.field(p.Name, encodeNumber(n))
		case FieldBoolean:
			on := false
			for _, v := range posted {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "on", "true", "yes", "1":
					on = true
				}
			}
			w.field(p.Name, encodeJSON(on))
		case FieldArray:
			var items []string
			for _, v := range posted {
				if v != "" {
					items = append(items, v)
				}
			}
			if len(items) > 0 {
				w.field(p.Name, encodeJSON(items))
			}
		}
	}
	return w.bytes(), nil
}

// isDecimal accepts what an HTML number input posts: an optional sign,
// digits, an optional fraction and exponent — not "Inf", "NaN" or hex.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || ((c == '-' || c == '+') && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E')):
		default:
			return false
		}
	}
	return digits
}
