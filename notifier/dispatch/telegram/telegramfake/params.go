package telegramfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// params are a Bot API request's parameters. Telegram takes them from the
// query string, an urlencoded or multipart form, or a JSON body; so does the
// fake. In a form, object parameters (reply_markup) are JSON text.
type params struct {
	json map[string]json.RawMessage
	form url.Values
}

const maxRequest = 1 << 20

func readParams(r *http.Request) (params, error) {
	p := params{form: r.URL.Query()}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.Method == http.MethodGet || r.ContentLength == 0 && ct == "":
		return p, nil
	case ct == "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
		if err != nil {
			return p, fmt.Errorf("read body: %w", err)
		}
		if len(body) > maxRequest {
			return p, errors.New("request too large")
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return p, nil
		}
		if err := json.Unmarshal(body, &p.json); err != nil {
			return p, fmt.Errorf("body is not a JSON object: %w", err)
		}
	case ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data":
		r.Body = http.MaxBytesReader(nil, r.Body, maxRequest)
		if err := r.ParseMultipartForm(maxRequest); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return p, fmt.Errorf("parse form: %w", err)
		}
		for k, v := range r.Form {
			p.form[k] = v
		}
	default:
		return p, fmt.Errorf("unsupported content type %q", ct)
	}
	return p, nil
}

// has reports whether the parameter was given.
func (p params) has(name string) bool {
	if raw, ok := p.json[name]; ok {
		return string(raw) != "null"
	}
	return p.form.Has(name)
}

// str returns a parameter as text: a JSON string's content, any other JSON
// value's literal text, or the form value.
func (p params) str(name string) (string, bool) {
	if raw, ok := p.json[name]; ok && string(raw) != "null" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
		return string(raw), true
	}
	if p.form.Has(name) {
		return p.form.Get(name), true
	}
	return "", false
}

// integer returns a whole-number parameter; Telegram accepts it as a number
// or as a string of digits.
func (p params) integer(name string) (int64, bool, error) {
	s, ok := p.str(name)
	if !ok || s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s must be an integer", name)
	}
	return v, true, nil
}

// boolean returns a true/false parameter.
func (p params) boolean(name string) bool {
	s, _ := p.str(name)
	return s == "true" || s == "1" || s == "True"
}

// object decodes an object parameter into v: JSON in a JSON body, or JSON
// text in a form or in a JSON string.
func (p params) object(name string, v any) (bool, error) {
	var raw []byte
	if r, ok := p.json[name]; ok && string(r) != "null" {
		raw = r
		var s string
		if json.Unmarshal(r, &s) == nil {
			raw = []byte(s)
		}
	} else if p.form.Has(name) {
		raw = []byte(p.form.Get(name))
	} else {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("can't parse %s JSON object", name)
	}
	return true, nil
}

// normalized returns every parameter as JSON, for the call record.
func (p params) normalized() json.RawMessage {
	m := map[string]any{}
	for k, v := range p.form {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	for k, v := range p.json {
		m[k] = v
	}
	out, _ := json.Marshal(m)
	return out
}
