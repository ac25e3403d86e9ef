package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// Asking inside the client (docs/mcp.md, "Asking inside the client"): when
// the client declared MCP elicitation, interactive_feedback and
// request_approval put the question to the person in the client as well as
// at the link, and take whichever answer comes first; the compare-and-swap
// submit lets exactly one win.
//
//   - Form mode when the question fits MCP's form language: the session's
//     own fields 1:1, options as an enum, free text as a string, an approval
//     as approve/deny and a reason. An accepted form is submitted like any
//     answer; decline cancels the session ("declined by the person");
//     cancel (dismissed) leaves it open.
//   - URL mode, with the feedback link, when the form cannot say it (the
//     question shows images) and the client declared it;
//     notifications/elicitation/complete follows when the session ends.
//   - Clients before 2026-07-28 get elicitation/create in the middle of the
//     call (outbound.go) and notifications/cancelled when the person answers
//     elsewhere first; 2026-07-28 clients get the same question as a multi
//     round-trip result (input_required), and the retry carries the answer.

// The protocol version that added URL mode, multi-select, titled choices and
// defaults beyond booleans to elicitation.
const elicitation20251125 = "2025-11-25"

// declinedReason is the cancel reason of a session whose person declined
// the in-client question.
const declinedReason = "declined by the person"

// elicitInputKey names feedbackd's question in a multi round-trip result.
const elicitInputKey = "feedback"

// The property names of the forms feedbackd writes for questions without
// fields of their own.
const (
	propSelectedOptions = "selectedOptions"
	propSelectedOption  = "selectedOption"
	propFreeText        = "freeText"
	propDecision        = "decision"
	propReason          = "reason"
)

// maxElicitDetails bounds how much of an approval's details an in-client
// question quotes; the page shows all of them.
const maxElicitDetails = 2000

type askMode string

const (
	askForm askMode = "form"
	askURL  askMode = "url"
)

// answerShape says how an accepted form's content maps to an answer.
type answerShape int

const (
	shapeFields   answerShape = iota + 1 // the session's own form: the content is its values
	shapeOptions                         // selectedOptions (a list) and freeText
	shapeOption                          // selectedOption (one) and freeText
	shapeText                            // freeText
	shapeApproval                        // decision and reason
)

// ask is the question put to the person inside the client.
type ask struct {
	mode   askMode
	shape  answerShape
	params mcpgo.ElicitationParams
}

// planAsk decides how to ask sess inside a client that declared features
// and speaks protocol version: nil when the client hosts MCP Apps (the app
// asks there) or cannot be asked; else a form when the question fits, else
// the link (URL mode).
func planAsk(sess *sessions.Session, link string, features clientFeatures, version string, l sessions.Limits) *ask {
	if features&featureApps != 0 {
		// The host renders the app in the conversation while the call
		// runs; a form too would ask the same person the same question
		// twice in the same client (docs/mcp.md, "Which client gets which
		// path").
		return nil
	}
	if features&featureElicitForm != 0 {
		if schema, shape, ok := formFor(sess, version >= elicitation20251125, l); ok {
			return &ask{mode: askForm, shape: shape, params: mcpgo.ElicitationParams{
				Message:         formMessage(sess, link),
				RequestedSchema: schema,
			}}
		}
	}
	if features&featureElicitURL != 0 {
		return &ask{mode: askURL, params: mcpgo.ElicitationParams{
			Mode:          mcpgo.ElicitationModeURL,
			Message:       urlMessage(sess),
			URL:           link,
			ElicitationID: sess.ID,
		}}
	}
	return nil
}

// formFor writes the requestedSchema that asks what sess asks, or reports
// that a form cannot: the question shows images, or needs what the
// client's protocol version lacks (a multiple choice before 2025-11-25).
func formFor(sess *sessions.Session, current bool, l sessions.Limits) (json.RawMessage, answerShape, bool) {
	if len(sess.Images) > 0 {
		return nil, 0, false
	}
	freeText := func(title string, minLength int) schema {
		p := schema{"type": "string", "title": title, "maxLength": l.MaxFreeText}
		if minLength > 0 {
			p["minLength"] = minLength
		}
		return p
	}
	var (
		props    []any // name, property, name, property, …: properties in order
		required []string
		shape    answerShape
	)
	switch {
	case sess.Approval != nil:
		decision := schema{"type": "string", "title": "Your decision"}
		if current {
			decision["oneOf"] = []schema{{"const": "approve", "title": "Approve"}, {"const": "deny", "title": "Deny"}}
		} else {
			decision["enum"] = []string{"approve", "deny"}
			decision["enumNames"] = []string{"Approve", "Deny"}
		}
		props = []any{propDecision, decision, propReason, schema{"type": "string", "title": "Reason (optional)",
			"maxLength": orDefault(l.MaxReason, sessions.DefaultMaxReason)}}
		required, shape = []string{propDecision}, shapeApproval
	case sess.Fields != nil:
		form := *sess.Fields
		if !current {
			var ok bool
			if form, ok = olderForm(form); !ok {
				return nil, 0, false
			}
		}
		b, err := json.Marshal(form)
		if err != nil {
			return nil, 0, false
		}
		return b, shapeFields, true
	case len(sess.PredefinedOptions) > 0 && sess.MultiSelect():
		if !current {
			return nil, 0, false
		}
		props = []any{
			propSelectedOptions, schema{"type": "array", "title": "Choose any", "items": schema{"type": "string", "enum": sess.PredefinedOptions}},
			propFreeText, freeText("Anything to add? (optional)", 0),
		}
		shape = shapeOptions
	case len(sess.PredefinedOptions) > 0:
		props = []any{
			propSelectedOption, schema{"type": "string", "title": "Choose one", "enum": sess.PredefinedOptions},
			propFreeText, freeText("Anything to add? (optional)", 0),
		}
		shape = shapeOption
	default:
		props = []any{propFreeText, freeText("Your answer", 1)}
		required, shape = []string{propFreeText}, shapeText
	}
	var w bytes.Buffer
	w.WriteString(`{"type":"object","properties":{`)
	for i := 0; i < len(props); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		name, _ := json.Marshal(props[i])
		prop, err := json.Marshal(props[i+1])
		if err != nil {
			return nil, 0, false
		}
		w.Write(name)
		w.WriteByte(':')
		w.Write(prop)
	}
	w.WriteByte('}')
	if len(required) > 0 {
		r, _ := json.Marshal(required)
		w.WriteString(`,"required":`)
		w.Write(r)
	}
	w.WriteByte('}')
	return w.Bytes(), shape, true
}

// olderForm writes a form in the elicitation language of 2025-06-18: titled
// choices as enum with enumNames, defaults on booleans only, and no
// multiple choice (ok is false when the form has one).
func olderForm(f sessions.FormSchema) (sessions.FormSchema, bool) {
	props := make([]sessions.Property, len(f.Properties))
	for i, p := range f.Properties {
		if p.Type == sessions.FieldArray {
			return f, false
		}
		if p.Style == sessions.ChoicesOneOf {
			p.Style = sessions.ChoicesEnumNames
		}
		if p.Type != sessions.FieldBoolean {
			p.Default = nil
		}
		props[i] = p
	}
	f.Properties = props
	return f, true
}

// formMessage is the text above an in-client form: the question as the page
// shows it, and the link for anyone who prefers the page.
func formMessage(sess *sessions.Session, link string) string {
	var parts []string
	if sess.Title != "" {
		parts = append(parts, sess.Title)
	}
	if sess.Approval != nil {
		parts = append(parts, "Approve or deny: "+sess.Approval.Action)
	}
	if sess.Message != "" {
		parts = append(parts, sess.Message)
	}
	if sess.Approval != nil && len(sess.Approval.Details) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, sess.Approval.Details, "", "  ") != nil {
			b.Reset()
			b.Write(sess.Approval.Details)
		}
		d := b.String()
		if utf8.RuneCountInString(d) > maxElicitDetails {
			d = sessions.Preview(d, maxElicitDetails) + "\n… (the page shows all of it)"
		}
		parts = append(parts, "Details:\n"+d)
	}
	parts = append(parts, "You can also answer in a browser: "+link)
	return strings.Join(parts, "\n\n")
}

// urlMessage is the text with which a client offers to open the link.
func urlMessage(sess *sessions.Session) string {
	what := sess.Title
	if what == "" && sess.Approval != nil {
		what = "Approve or deny: " + sess.Approval.Action
	}
	if what == "" {
		what = sessions.Preview(sess.Message, 200)
	}
	return "An agent is asking you a question: " + what + "\n\nOpen the page to answer."
}

// submission turns an accepted form's content into the answer it gives.
// Content that does not fit the form is INVALID_REQUEST naming the field.
func (a *ask) submission(content json.RawMessage) (*sessions.SubmitRequest, error) {
	content = bytes.TrimSpace(content)
	if len(content) == 0 || content[0] != '{' {
		return nil, sessions.Invalid("content", "must be an object of the form's fields")
	}
	if a.shape == shapeFields {
		return &sessions.SubmitRequest{Values: content}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(content, &fields); err != nil {
		return nil, sessions.Invalid("content", "must be an object of the form's fields")
	}
	allowed := map[answerShape][]string{
		shapeOptions:  {propSelectedOptions, propFreeText},
		shapeOption:   {propSelectedOption, propFreeText},
		shapeText:     {propFreeText},
		shapeApproval: {propDecision, propReason},
	}[a.shape]
	for name := range fields {
		if !slices.Contains(allowed, name) {
			return nil, sessions.Invalid("content", fmt.Sprintf("%q is not a field of this form", name))
		}
	}
	str := func(name string) (*string, error) {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			return nil, nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, sessions.Invalid(name, "must be a string")
		}
		return &s, nil
	}
	var r sessions.SubmitRequest
	var err error
	if r.FreeText, err = str(propFreeText); err != nil {
		return nil, err
	}
	if r.FreeText != nil && strings.TrimSpace(*r.FreeText) == "" {
		r.FreeText = nil
	}
	switch a.shape {
	case shapeOptions:
		if raw, ok := fields[propSelectedOptions]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, &r.SelectedOptions) != nil {
				return nil, sessions.Invalid(propSelectedOptions, "must be a list of the options")
			}
		}
	case shapeOption:
		one, err := str(propSelectedOption)
		if err != nil {
			return nil, err
		}
		if one != nil && *one != "" {
			r.SelectedOptions = []string{*one}
		}
	case shapeApproval:
		d, err := str(propDecision)
		if err != nil {
			return nil, err
		}
		if d != nil {
			r.Decision = sessions.Decision(*d)
		}
		if r.Reason, err = str(propReason); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// elicitResult is the result of elicitation/create.
type elicitResult struct {
	Action  mcpgo.ElicitationResponseAction `json:"action"`
	Content json.RawMessage                 `json:"content,omitempty"`
}

// asked is how a wait that also asked inside the client ended.
type asked struct {
	sess *sessions.Session
	// dismissed: the person closed the in-client question without
	// answering; sess is still pending and its link open.
	dismissed bool
	// refused: the answer given inside the client was not valid for the
	// question (INVALID_REQUEST); sess is still pending.
	refused error
	// stopped: the wait was cut short because this server is shutting
	// down; sess is still pending.
	stopped bool
}

// planFor decides how to ask sess inside the client of this call, or
// returns nil when it cannot be asked there.
func (t *tools) planFor(ctx context.Context, sess *sessions.Session, baseURL string) *ask {
	version := infoFrom(ctx).protocol
	if version == "" {
		version = server.RequestProtocolVersion(ctx)
	}
	return planAsk(sess, envelope.FeedbackURL(baseURL, sess.ID), requestFeatures(ctx), version, t.svc.Limits())
}

type waited struct {
	sess    *sessions.Session
	stopped bool
	err     error
}

// awaitAsking waits like await and, when the client can be asked, asks
// the person inside it at the same time. Whichever answers first wins; an
// in-client question still open when the wait ends is withdrawn
// (notifications/cancelled), and a URL-mode question the person accepted
// is closed with notifications/elicitation/complete once the session ends.
func (t *tools) awaitAsking(ctx context.Context, req mcpgo.CallToolRequest, sess *sessions.Session, wait time.Duration, baseURL string) (asked, error) {
	info := infoFrom(ctx)
	var a *ask
	if wait > 0 && !sess.Status.Terminal() && info.link != nil && info.out != nil {
		a = t.planFor(ctx, sess, baseURL)
	}
	if a == nil {
		s, stopped, err := t.await(ctx, req, sess, wait)
		return asked{sess: s, stopped: stopped}, err
	}
	out := info.out
	r, err := out.send(*info.link, string(mcpgo.MethodElicitationCreate), a.params)
	if err != nil {
		t.log.DebugContext(ctx, "could not ask inside the client; the link stays", "session", sess.ID, "err", err)
		s, stopped, err := t.await(ctx, req, sess, wait)
		return asked{sess: s, stopped: stopped}, err
	}
	defer out.forget(r)

	wctx, stop := context.WithCancel(ctx)
	done := make(chan waited, 1)
	go func() {
		s, stopped, err := t.await(wctx, req, sess, wait)
		done <- waited{s, stopped, err}
	}()
	// stopWaiting ends the wait and returns the latest state it read.
	stopWaiting := func() waited {
		stop()
		return <-done
	}
	answers := r.Answer()
	urlAccepted := false
	for {
		select {
		case w := <-done:
			stop()
			if w.err == nil && w.sess != nil {
				switch {
				case w.sess.Status == sessions.StatusPending:
					out.withdraw(r, "The tool call stopped waiting; the question stays open at its link.")
				default:
					out.withdraw(r, "The question was answered or closed elsewhere.")
					if urlAccepted {
						t.elicitationComplete(ctx, info.link, w.sess.ID)
					}
				}
			}
			return asked{sess: w.sess, stopped: w.stopped}, w.err
		case ans := <-answers:
			answers = nil // one answer per request
			res, ok := t.readElicitAnswer(ctx, sess.ID, ans)
			if !ok {
				continue // the client could not ask; the link still can
			}
			switch {
			case res.Action == mcpgo.ElicitationResponseActionAccept && a.mode == askURL:
				urlAccepted = true
			case res.Action == mcpgo.ElicitationResponseActionAccept:
				w := stopWaiting()
				return t.submitFromClient(ctx, a, sess, res.Content, w)
			case res.Action == mcpgo.ElicitationResponseActionDecline:
				stopWaiting()
				got, err := t.svc.CancelFor(ctx, sess.Owner, sess.ID, declinedReason)
				return t.settled(ctx, sess, got, err)
			default: // cancel: dismissed without a choice
				stopWaiting()
				// Read afresh: a wait stopped in the middle of a read reports
				// the stop, not the session.
				cur, err := t.svc.GetOwned(ctx, sess.Owner, sess.ID)
				if err != nil {
					return asked{}, err
				}
				return asked{sess: cur, dismissed: cur.Status == sessions.StatusPending}, nil
			}
		}
	}
}

// readElicitAnswer reads a client's answer to elicitation/create; ok is
// false when the client answered with an error (it could not ask).
func (t *tools) readElicitAnswer(ctx context.Context, id string, ans rpcAnswer) (elicitResult, bool) {
	var res elicitResult
	if ans.Error != nil {
		t.log.DebugContext(ctx, "the client could not ask; the link stays", "session", id, "err", ans.Error)
		return res, false
	}
	if err := json.Unmarshal(ans.Result, &res); err != nil {
		t.log.DebugContext(ctx, "a malformed elicitation result; the link stays", "session", id, "err", err)
		return res, false
	}
	return res, true
}

// submitFromClient submits an accepted form as the answer. w is the
// latest state the wait read: if the session ended meanwhile, that wins.
func (t *tools) submitFromClient(ctx context.Context, a *ask, sess *sessions.Session, content json.RawMessage, w waited) (asked, error) {
	if w.err == nil && w.sess != nil && w.sess.Status.Terminal() {
		return asked{sess: w.sess}, nil
	}
	sub, err := a.submission(content)
	if err != nil {
		return asked{sess: sess, refused: err}, nil
	}
	got, err := t.svc.Submit(ctx, sess.ID, sub)
	if sessions.ErrorCode(err) == sessions.CodeInvalidRequest {
		return asked{sess: sess, refused: err}, nil
	}
	return t.settled(ctx, sess, got, err)
}

// settled reads what became of sess after a transition made from the
// client: the new state, or, when another surface finished it first, the
// state that surface left.
func (t *tools) settled(ctx context.Context, sess, got *sessions.Session, err error) (asked, error) {
	switch sessions.ErrorCode(err) {
	case "":
		return asked{sess: got}, nil
	case sessions.CodeAlreadySubmitted, sessions.CodeExpired, sessions.CodeCancelled:
		cur, err := t.svc.GetOwned(ctx, sess.Owner, sess.ID)
		return asked{sess: cur}, err
	}
	return asked{}, err
}

// elicitationComplete tells the client that the URL-mode question it
// opened is done (notifications/elicitation/complete).
func (t *tools) elicitationComplete(ctx context.Context, link *clientLink, elicitationID string) {
	err := link.send(mcpgo.NewElicitationCompleteNotification(elicitationID))
	if err != nil {
		t.log.DebugContext(ctx, "elicitation complete not delivered", "session", elicitationID, "err", err)
	}
}

// Multi round-trip (2026-07-28): the question is the call's result, and the
// retry carries the answer and the requestState naming the session.

const requestStatePrefix = "fbk1."

// requestState names the session and how it was asked.
func requestState(a *ask, sess *sessions.Session) string {
	return requestStatePrefix + string(a.mode) + "." + sess.ID
}

// parseRequestState reads a requestState this server issued.
func parseRequestState(s string) (askMode, string, error) {
	rest, ok := strings.CutPrefix(s, requestStatePrefix)
	mode, id, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || (askMode(mode) != askForm && askMode(mode) != askURL) || sessions.CheckID(id) != nil {
		return "", "", sessions.Invalid("requestState", "is not one this server issued")
	}
	return askMode(mode), id, nil
}

// inputRequired is the multi round-trip result asking the person inside
// the client.
func inputRequired(a *ask, sess *sessions.Session) *mcpgo.CallToolResult {
	return server.NewInputRequestBuilder(requestState(a, sess)).Elicit(elicitInputKey, a.params).ToolResult()
}

// askFirst reports whether this call should answer with the question
// (multi round-trip) rather than wait: a 2026-07-28 client that can be asked.
func (t *tools) askFirst(ctx context.Context, sess *sessions.Session, wait time.Duration, baseURL string) *ask {
	if wait <= 0 || !server.IsModernRequest(ctx) {
		return nil
	}
	return t.planFor(ctx, sess, baseURL)
}

// resume carries on a call retried with the person's in-client answer:
// it reads the session the requestState names (the caller's own), applies
// the answer unless the session ended meanwhile, and for a URL-mode
// question the person accepted, waits like a first call.
func (t *tools) resume(ctx context.Context, req mcpgo.CallToolRequest, wait time.Duration, baseURL string) (asked, error) {
	mode, id, err := parseRequestState(req.Params.RequestState)
	if err != nil {
		return asked{}, err
	}
	sess, err := t.svc.GetOwned(ctx, infoFrom(ctx).principal.ID, id)
	if err != nil || sess.Status.Terminal() {
		return asked{sess: sess}, err
	}
	res := server.ElicitationResponse(req.Params.InputResponses, elicitInputKey)
	if res == nil {
		s, stopped, err := t.await(ctx, req, sess, wait)
		return asked{sess: s, stopped: stopped}, err
	}
	switch res.Action {
	case mcpgo.ElicitationResponseActionAccept:
		if mode == askURL {
			s, stopped, err := t.await(ctx, req, sess, wait)
			return asked{sess: s, stopped: stopped}, err
		}
		a := t.planFor(ctx, sess, baseURL)
		if a == nil || a.mode != askForm {
			return asked{}, sessions.Invalid("inputResponses", "this client cannot answer the session's form")
		}
		content, err := json.Marshal(res.Content)
		if err != nil {
			return asked{}, sessions.Invalid("inputResponses", "the form's content is not JSON")
		}
		return t.submitFromClient(ctx, a, sess, content, waited{})
	case mcpgo.ElicitationResponseActionDecline:
		got, err := t.svc.CancelFor(ctx, sess.Owner, sess.ID, declinedReason)
		return t.settled(ctx, sess, got, err)
	}
	return asked{sess: sess, dismissed: true}, nil
}

// askedResult renders how a wait that asked inside the client ended, for
// interactive_feedback.
func (t *tools) askedResult(ctx context.Context, a asked, baseURL string) (*mcpgo.CallToolResult, error) {
	switch {
	case a.refused != nil:
		var e *sessions.Error
		msg := a.refused.Error()
		if errors.As(a.refused, &e) {
			msg = e.Message
		}
		return mcpgo.NewToolResultError(fmt.Sprintf("%s: The answer given in the client's form was refused: %s. "+
			"Session %s is still open: the person can answer at %s. Call %s with this sessionId to keep waiting.",
			sessions.CodeInvalidRequest, msg, a.sess.ID, envelope.FeedbackURL(baseURL, a.sess.ID), toolGetFeedbackResult)), nil
	case a.dismissed:
		res, err := t.result(ctx, a.sess, baseURL, false)
		if err == nil && !res.IsError {
			res.Content[0] = mcpgo.NewTextContent(fmt.Sprintf("The person dismissed the question in the client without answering. "+
				"Session %s is still open: they can answer at %s. Call %s with this sessionId to keep waiting.",
				a.sess.ID, envelope.FeedbackURL(baseURL, a.sess.ID), toolGetFeedbackResult))
		}
		return res, err
	}
	return t.result(ctx, a.sess, baseURL, a.stopped)
}
