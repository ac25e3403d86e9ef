package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// The parts of a question beyond a message, options and free text: a
// single choice, a form, an approval, images. A seed-style question sets
// none of them and its page is exactly what it was before they existed.

// Approval is what an approval asks the person to decide on.
type Approval struct {
	Action string
	// Details is the JSON the agent attached (such as a tool call's
	// input), shown pretty-printed; nil if none.
	Details json.RawMessage
}

// Image is an image shown with the question.
type Image struct {
	URL string // where the page reads it (/feedback/{id}/images/{imageId})
	// ID names the image to an embedding that loads images itself (the MCP
	// App, Renderer.Embedded), which leaves URL empty.
	ID            string
	Name          string
	Width, Height int
}

// detailsCollapseLines is how many lines of pretty-printed details are
// shown before they fold away behind a "show" toggle.
const detailsCollapseLines = 12

// Form controls: how a field is rendered.
const (
	controlText       = "text"
	controlEmail      = "email"
	controlURL        = "url"
	controlDate       = "date"
	controlDateTime   = "datetime-local"
	controlNumber     = "number"
	controlCheckbox   = "checkbox"
	controlRadios     = "radios"
	controlSelect     = "select"
	controlCheckboxes = "checkboxes"
)

// maxRadios is how many choices a single-choice field shows as radio
// buttons; more become a drop-down list.
const maxRadios = 6

// fieldView is one form field as the template renders it.
type fieldView struct {
	Name      string // the property name
	Input     string // the input's name: "values." + Name
	ID        string // the DOM id of its input (or of its group)
	Label     string
	Hint      string // the field's description
	Required  bool
	Control   string
	Step      string // number inputs: "1" for integers, else "any"
	Min, Max  string // number bounds, or date bounds
	MinLength int    // zero: none
	MaxLength int    // zero: none
	MinItems  int
	MaxItems  int
	Format    string
	Value     string // text-like inputs
	Checked   bool   // a boolean
	Choices   []choiceView
	// RequiredText and InvalidText are what the page says when the field
	// is left empty or holds something the field does not take; Error is
	// the one shown now (after a refused post), else "".
	RequiredText string
	InvalidText  string
	Error        string
}

type choiceView struct {
	ID, Value, Label string
	Checked          bool
}

// pageFields builds the fields of form with their current values: the
// posted draft when there is one, else each field's default.
func pageFields(c catalog, form *sessions.FormSchema, draft map[string][]string, hasDraft bool, errField string) ([]fieldView, error) {
	out := make([]fieldView, 0, len(form.Properties))
	for i := range form.Properties {
		p := &form.Properties[i]
		f := fieldView{
			Name:     p.Name,
			Input:    "values." + p.Name,
			ID:       "f-" + p.Name,
			Label:    strings.ToValidUTF8(p.Label(), "\uFFFD"),
			Hint:     strings.ToValidUTF8(p.Description, "\uFFFD"),
			Required: form.IsRequired(p.Name),
			Format:   string(p.Format),
		}
		values := defaultValues(p)
		if hasDraft {
			values = draft[p.Name]
		}
		first := ""
		if len(values) > 0 {
			first = values[0]
		}
		switch p.Type {
		case sessions.FieldString:
			switch {
			case p.IsSelect():
				f.Control = controlRadios
				if len(p.Choices) > maxRadios {
					f.Control = controlSelect
				}
			case p.Format == sessions.FormatEmail:
				f.Control = controlEmail
			case p.Format == sessions.FormatURI:
				f.Control = controlURL
			case p.Format == sessions.FormatDate:
				f.Control = controlDate
			case p.Format == sessions.FormatDateTime:
				f.Control = controlDateTime
				first = dateTimeLocal(first)
			default:
				f.Control = controlText
			}
			if p.MinLength != nil {
				f.MinLength = *p.MinLength
			}
			if p.MaxLength != nil {
				f.MaxLength = *p.MaxLength
			}
			f.Value = first
		case sessions.FieldNumber, sessions.FieldInteger:
			f.Control, f.Step, f.Value = controlNumber, "any", first
			if p.Type == sessions.FieldInteger {
				f.Step = "1"
			}
			if p.Minimum != nil {
				f.Min = strconv.FormatFloat(*p.Minimum, 'f', -1, 64)
			}
			if p.Maximum != nil {
				f.Max = strconv.FormatFloat(*p.Maximum, 'f', -1, 64)
			}
		case sessions.FieldBoolean:
			f.Control = controlCheckbox
			for _, v := range values {
				f.Checked = f.Checked || v == "true" || v == "on"
			}
		case sessions.FieldArray:
			f.Control = controlCheckboxes
			if p.MinItems != nil {
				f.MinItems = *p.MinItems
			}
			if p.MaxItems != nil {
				f.MaxItems = *p.MaxItems
			}
		}
		for j, ch := range p.Choices {
			checked := false
			for _, v := range values {
				checked = checked || v == ch.Value
			}
			f.Choices = append(f.Choices, choiceView{ID: fmt.Sprintf("%s-%d", f.ID, j), Value: ch.Value, Label: strings.ToValidUTF8(ch.Label(), "\uFFFD"), Checked: checked})
		}
		var err error
		if f.RequiredText, err = c.translate("field.required"); err != nil {
			return nil, err
		}
		if f.InvalidText, err = invalidText(c, p); err != nil {
			return nil, err
		}
		if errField == f.Input {
			f.Error = f.InvalidText
			if len(values) == 0 || (len(values) == 1 && strings.TrimSpace(values[0]) == "") {
				if f.Required {
					f.Error = f.RequiredText
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// defaultValues is a field's default as the strings a form would post.
func defaultValues(p *sessions.Property) []string {
	if p.Default == nil {
		return nil
	}
	var v any
	if json.Unmarshal(p.Default, &v) != nil {
		return nil
	}
	switch d := v.(type) {
	case string:
		return []string{d}
	case float64:
		return []string{strconv.FormatFloat(d, 'f', -1, 64)}
	case bool:
		return []string{strconv.FormatBool(d)}
	case []any:
		var out []string
		for _, e := range d {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// dateTimeLocal turns an RFC 3339 time into the value of a datetime-local
// input, in UTC (the script shows it in the person's own zone). Anything
// else is left as it is.
func dateTimeLocal(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// invalidText says, in the person's language, what a field takes.
func invalidText(c catalog, p *sessions.Property) (string, error) {
	bound := func(v *float64) string { return strconv.FormatFloat(*v, 'f', -1, 64) }
	switch p.Type {
	case sessions.FieldNumber, sessions.FieldInteger:
		whole := p.Type == sessions.FieldInteger
		switch {
		case p.Minimum != nil && p.Maximum != nil:
			return c.translate("field.range", "min", bound(p.Minimum), "max", bound(p.Maximum))
		case p.Minimum != nil:
			return c.translate("field.min", "min", bound(p.Minimum))
		case p.Maximum != nil:
			return c.translate("field.max", "max", bound(p.Maximum))
		case whole:
			return c.translate("field.integer")
		}
		return c.translate("field.number")
	case sessions.FieldString:
		switch {
		case p.IsSelect():
			return c.translate("field.choice")
		case p.Format == sessions.FormatEmail:
			return c.translate("field.email")
		case p.Format == sessions.FormatURI:
			return c.translate("field.uri")
		case p.Format == sessions.FormatDate:
			return c.translate("field.date")
		case p.Format == sessions.FormatDateTime:
			return c.translate("field.datetime")
		case p.MinLength != nil && p.MaxLength != nil:
			return c.translate("field.length", "min", *p.MinLength, "max", *p.MaxLength)
		case p.MinLength != nil:
			return c.translate("field.minLength", "min", *p.MinLength)
		}
		maxLen := sessions.MaxFieldText
		if p.MaxLength != nil {
			maxLen = *p.MaxLength
		}
		return c.translate("field.maxLength", "max", maxLen)
	case sessions.FieldArray:
		switch {
		case p.MinItems != nil && p.MaxItems != nil:
			return c.translate("field.choices", "min", *p.MinItems, "max", *p.MaxItems)
		case p.MinItems != nil:
			return c.translate("field.minChoices", "min", *p.MinItems)
		case p.MaxItems != nil:
			return c.translate("field.maxChoices", "max", *p.MaxItems)
		}
		return c.translate("field.pick")
	}
	return c.translate("field.check")
}

// approvalDetails pretty-prints details, and says whether there is enough
// of it to fold away.
func approvalDetails(details json.RawMessage) (text string, long bool) {
	if len(details) == 0 {
		return "", false
	}
	var b bytes.Buffer
	if err := json.Indent(&b, details, "", "  "); err != nil {
		return string(details), false
	}
	text = strings.ToValidUTF8(b.String(), "\uFFFD")
	return text, strings.Count(text, "\n") >= detailsCollapseLines
}

// sizeText writes a byte count as people read it, in MB (MiB) or KB.
func sizeText(n int64) string {
	if n >= 1<<20 {
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".0") + " MB"
	}
	return strconv.FormatInt((n+1023)>>10, 10) + " KB"
}
