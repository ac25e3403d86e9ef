package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/sessions"
)

// request_approval is a permission prompt tool: Claude Code (and anything
// speaking its protocol) calls it with the tool call it is about to make,
// and reads the decision from one text content holding JSON. See
// docs/mcp.md, "request_approval".

// approvalArgs are request_approval's arguments: Claude Code sends
// tool_name, input and tool_use_id; timeout is feedbackd's own.
type approvalArgs struct {
	ToolName  string           `json:"tool_name"`
	Input     json.RawMessage  `json:"input"`
	ToolUseID string           `json:"tool_use_id,omitempty"`
	Timeout   *sessions.Number `json:"timeout,omitempty"`
}

// The deny messages an agent reads when the person gave no reason, or no
// one answered.
const (
	denyDefault   = "The person reviewing this request denied it."
	denyCancelled = "The approval request was withdrawn before anyone answered, so the action was not approved."
	denyShutdown  = "The approval server restarted before anyone answered, so the action was not approved; ask again."
	denyDeclined  = "The person declined to answer the approval request, so the action was not approved."
)

func denyNobody(timeout int) string {
	return fmt.Sprintf("Nobody answered the approval request within %d seconds, so the action was not approved.", timeout)
}

// decision is the JSON a permission prompt tool answers with.
type decision struct {
	Behavior     string          `json:"behavior"`
	UpdatedInput json.RawMessage `json:"updatedInput,omitempty"`
	Message      string          `json:"message,omitempty"`
}

func (t *tools) requestApproval(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args approvalArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	input, err := checkApprovalArgs(&args)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	info := infoFrom(ctx)
	if req.Params.RequestState != "" {
		return t.resumeApproval(ctx, req, input)
	}
	if info.allowCreate != nil {
		if err := info.allowCreate(); err != nil {
			return t.toolError(ctx, err), nil
		}
	}
	cr := approvalRequest(&args, input, t.svc.Limits())
	cr.CallRef = callRef(ctx, req)
	sess, err := t.svc.Create(ctx, info.principal.ID, cr)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	// The call lasts as long as the session can be answered: Claude Code
	// waits on it. The expiry is written by the expirer, or by the wait
	// itself at the deadline.
	lifetime := func() time.Duration { return time.Until(sess.ExpiresAt) + time.Second }
	if a := t.askFirst(ctx, sess, lifetime(), info.baseURL); a != nil {
		return inputRequired(a, sess), nil
	}
	got, err := t.awaitAsking(ctx, req, sess, lifetime(), info.baseURL)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	return t.decideApproval(ctx, req, got, input)
}

// resumeApproval carries on a 2026-07-28 retry of request_approval that
// carries the person's in-client answer.
func (t *tools) resumeApproval(ctx context.Context, req mcpgo.CallToolRequest, input json.RawMessage) (*mcpgo.CallToolResult, error) {
	info := infoFrom(ctx)
	got, err := t.resume(ctx, req, 0, info.baseURL)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	return t.decideApproval(ctx, req, got, input)
}

// Why an approval nobody answered was withdrawn.
const (
	approvalLeftReason     = "the agent's call ended before anyone answered"
	approvalShutdownReason = "the server shut down before anyone answered"
)

// decideApproval waits, on the link only, until the session ends (a person
// who dismissed the in-client question, or whose in-client answer was
// refused, may still answer there), then answers with the decision. A wait
// that stops because the client left or the server is shutting down
// withdraws the approval.
func (t *tools) decideApproval(ctx context.Context, req mcpgo.CallToolRequest, a asked, input json.RawMessage) (*mcpgo.CallToolResult, error) {
	sess, stopped := a.sess, a.stopped
	var err error
	for !sess.Status.Terminal() && ctx.Err() == nil && !stopped {
		if sess, stopped, err = t.await(ctx, req, sess, time.Until(sess.ExpiresAt)+time.Second); err != nil {
			return t.toolError(ctx, err), nil
		}
	}
	if !sess.Status.Terminal() {
		// The client left, or this server is shutting down before anyone
		// answered: nobody would act on an answer now, so the page must
		// not ask for one.
		reason := approvalLeftReason
		if stopped {
			reason = approvalShutdownReason
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := t.svc.CancelFor(cctx, sess.Owner, sess.ID, reason); err != nil {
			t.log.DebugContext(ctx, "withdraw an approval its caller left", "session", sess.ID, "err", err)
		}
		if stopped {
			// Claude Code reads only allow or deny: a shutdown is a deny
			// that says to ask again.
			return approvalResult(decision{Behavior: "deny", Message: denyShutdown}), nil
		}
		return t.toolError(ctx, sessions.Errorf(sessions.CodeCancelled, "the call ended before anyone answered")), nil
	}
	return approvalDecision(sess, input), nil
}

// approvalDecision is the permission prompt tool's answer for a finished
// approval session: one text content holding the decision JSON.
func approvalDecision(sess *sessions.Session, input json.RawMessage) *mcpgo.CallToolResult {
	d := decision{Behavior: "deny"}
	switch {
	case sess.Status == sessions.StatusCompleted && sess.Feedback != nil && sess.Feedback.Decision == sessions.DecisionApprove:
		d = decision{Behavior: "allow", UpdatedInput: input}
	case sess.Status == sessions.StatusCompleted && sess.Feedback != nil:
		d.Message = strings.TrimSpace(sess.Feedback.Reason)
		if d.Message == "" {
			d.Message = denyDefault
		}
	case sess.Status == sessions.StatusExpired:
		d.Message = denyNobody(sess.Timeout)
	case sess.CancelReason == declinedReason:
		d.Message = denyDeclined
	case sess.CancelReason == approvalShutdownReason:
		d.Message = denyShutdown
	default:
		d.Message = denyCancelled
	}
	return approvalResult(d)
}

// approvalResult is the one text block Claude Code reads: the decision as
// JSON, with nothing escaped that need not be.
func approvalResult(d decision) *mcpgo.CallToolResult {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d) // a struct of strings and a raw JSON object that was compacted: cannot fail
	return mcpgo.NewToolResultText(strings.TrimSuffix(b.String(), "\n"))
}

// checkApprovalArgs requires a tool name and an input object, and returns
// the input as compact JSON, which allow hands back unchanged.
func checkApprovalArgs(a *approvalArgs) (json.RawMessage, error) {
	if strings.TrimSpace(a.ToolName) == "" {
		return nil, sessions.Invalid("tool_name", "is required: the name of the tool to approve")
	}
	if !utf8.ValidString(a.ToolName) || !utf8.ValidString(a.ToolUseID) {
		return nil, sessions.Invalid("tool_name", "must be valid UTF-8")
	}
	raw := bytes.TrimSpace(a.Input)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, sessions.Invalid("input", "is required: the tool call's input, a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, sessions.Invalid("input", "must be a JSON object")
	}
	return b.Bytes(), nil
}

// approvalRequest is the approval session a tool call asks for: its action
// is the tool's name, its details the input, or a summary of it when the
// input is larger than details may be (the call never fails for that).
func approvalRequest(a *approvalArgs, input json.RawMessage, l sessions.Limits) *sessions.CreateRequest {
	maxAction := orDefault(l.MaxAction, sessions.DefaultMaxAction)
	maxDetails := orDefault(l.MaxDetails, sessions.DefaultMaxDetails)
	r := &sessions.CreateRequest{
		Kind:    sessions.KindApproval,
		Action:  oneLine(a.ToolName, maxAction),
		Details: input,
		Timeout: a.Timeout,
	}
	if len(input) > maxDetails {
		r.Details = summarise(input, maxDetails)
		r.Message = fmt.Sprintf("The input of this call is %s of JSON, more than can be shown: the details hold its first part. "+
			"Approving allows the whole input.", sizeText(len(input)))
	}
	meta := map[string]string{"tool_name": a.ToolName}
	if a.ToolUseID != "" {
		meta["tool_use_id"] = a.ToolUseID
	}
	if b, err := json.Marshal(meta); err == nil && len(b) <= l.MaxMetadata {
		r.Metadata = b
	}
	return r
}

// summarise keeps the start of an input too large for details, as a JSON
// object that says so: {"truncated":true,"size":…,"start":"…"}.
func summarise(input json.RawMessage, limit int) json.RawMessage {
	type summary struct {
		Truncated bool   `json:"truncated"`
		Size      int    `json:"size"`
		Start     string `json:"start"`
	}
	// Escaping may grow the text up to six times (\u00XX); shrink until it
	// fits.
	keep := limit - 100
	for keep > 0 {
		start := strings.ToValidUTF8(string(input[:min(keep, len(input))]), "")
		b, err := json.Marshal(summary{Truncated: true, Size: len(input), Start: start + "…"})
		if err == nil && len(b) <= limit {
			return b
		}
		keep = keep * 3 / 4
	}
	return json.RawMessage(`{"truncated":true}`)
}

// oneLine makes a title of s: control characters become spaces, runs of
// space one, at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	if s == "" {
		s = "(a tool without a name)"
	}
	return s
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func sizeText(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}
