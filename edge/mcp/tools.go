package mcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/sessions"
)

// ServerName is the name the MCP server reports in its handshake. See
// docs/api.md, "MCP", and docs/mcpgo.md.
const ServerName = "Interactive Feedback MCP"

// The tools (docs/mcp.md).
const (
	toolInteractiveFeedback = "interactive_feedback"
	toolGetFeedbackResult   = "get_feedback_result"
	toolCheckFeedbackStatus = "check_feedback_status"
	toolRequestApproval     = "request_approval"
)

// maxWaitSeconds bounds waitSeconds, as config bounds MCP_WAIT_SECONDS. A
// wait also ends at its session's deadline, whichever comes first.
const maxWaitSeconds = 3600

const mcpInstructions = `Use interactive_feedback to ask a person a question and wait for the answer: free text, ` +
	`options (several, or one with multiSelect false), a typed form (fields: dates, numbers, yes/no, choices), ` +
	`with images such as screenshots; the person may answer with images, which come back as image content. ` +
	`When this client can ask the person itself (an MCP App, or a form by elicitation), they are asked here too; the first answer wins. ` +
	`It returns a feedbackUrl to show the person; if the answer has not come when the call returns, ` +
	`call get_feedback_result with the sessionId to keep waiting. check_feedback_status reports a session's state at once; ` +
	`list_feedback lists your sessions and cancel_feedback withdraws one. ` +
	`request_approval asks the person to approve or deny a tool call, and answers as a permission prompt tool does.`

// tools are the tools of docs/mcp.md, each a small function over the
// sessions service. Who calls comes from the request context (see
// transport.go); the tools never see HTTP.
type tools struct {
	svc      *sessions.Service
	srv      *server.MCPServer
	log      *slog.Logger
	wait     time.Duration // default waitSeconds
	progress time.Duration // interval of progress notifications while waiting
	// waitContext bounds a wait by shutdown too (httpbridge's
	// WaitContext): the call then answers at once with the session's state.
	waitContext func(context.Context) (context.Context, context.CancelFunc)
	// acquireWait takes one of the caller's wait slots; nil caps nothing.
	acquireWait func(principal string) (release func(), err error)
}

// newMCPServer builds the MCP server with the tools registered. waitContext
// bounds every wait by shutdown; opts carry what the transports need
// (hooks, middleware).
func newMCPServer(cfg Config, svc *sessions.Service, log *slog.Logger, waitContext func(context.Context) (context.Context, context.CancelFunc), opts ...server.ServerOption) (*server.MCPServer, *tools) {
	opts = append([]server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions(mcpInstructions),
	}, opts...)
	srv := server.NewMCPServer(ServerName, cfg.Version, opts...)
	t := &tools{svc: svc, srv: srv, log: log, wait: cfg.Wait, progress: cfg.ProgressInterval,
		waitContext: waitContext, acquireWait: cfg.AcquireWait}
	l := svc.Limits()
	srv.AddTool(mcpgo.Tool{
		Name:            toolInteractiveFeedback,
		Description:     "Ask a person a question and wait for the answer. Creates a feedback session, returns its feedbackUrl for the person to open, and waits up to waitSeconds for the answer. The question can offer options (several may be picked, or one with multiSelect false), a typed form (fields, e.g. a date, a number, yes/no, a choice), and images (e.g. a screenshot). The person's images come back as image content. If the wait ends first, the result says how to keep waiting with get_feedback_result.",
		RawInputSchema:  interactiveFeedbackInput(l, cfg.Wait),
		RawOutputSchema: resultSchema,
		Annotations:     annotations("Ask a person", false),
		Execution:       &mcpgo.ToolExecution{TaskSupport: mcpgo.TaskSupportOptional},
	}, t.interactiveFeedback)
	srv.AddTool(mcpgo.Tool{
		Name:            toolGetFeedbackResult,
		Description:     "Wait up to waitSeconds for the answer to a session created by interactive_feedback, then return the answer or the session's current status.",
		RawInputSchema:  getFeedbackResultInput(cfg.Wait),
		RawOutputSchema: resultSchema,
		Annotations:     annotations("Get the answer", true),
	}, t.getFeedbackResult)
	srv.AddTool(mcpgo.Tool{
		Name:            toolCheckFeedbackStatus,
		Description:     "Return a feedback session's status (pending, completed, expired or cancelled) and times at once, without waiting.",
		RawInputSchema:  checkFeedbackStatusInput,
		RawOutputSchema: statusSchema,
		Annotations:     annotations("Check status", true),
	}, t.checkFeedbackStatus)
	srv.AddTool(mcpgo.Tool{
		Name: toolRequestApproval,
		Description: "Ask a person to approve or deny a tool call, and wait for the decision. Works as Claude Code's permission prompt tool " +
			"(claude --permission-prompt-tool mcp__<server>__request_approval): returns one text content holding " +
			`{"behavior":"allow","updatedInput":<input>} or {"behavior":"deny","message":"<why>"}. ` +
			"Nobody answering before the session's timeout is a deny.",
		RawInputSchema: requestApprovalInput(l),
		Annotations:    annotations("Ask for approval", false),
		Execution:      &mcpgo.ToolExecution{TaskSupport: mcpgo.TaskSupportOptional},
	}, t.requestApproval)
	t.addManageTools()
	t.addApps()
	return srv, t
}

func annotations(title string, readOnly bool) mcpgo.ToolAnnotation {
	return mcpgo.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcpgo.ToBoolPtr(readOnly),
		DestructiveHint: mcpgo.ToBoolPtr(false),
		IdempotentHint:  mcpgo.ToBoolPtr(readOnly),
		OpenWorldHint:   mcpgo.ToBoolPtr(true),
	}
}

// statusOutput is the structuredContent of check_feedback_status.
type statusOutput struct {
	envelope.StatusBody
	FeedbackURL string `json:"feedbackUrl"`
}

// resultOutput is the structuredContent of interactive_feedback and
// get_feedback_result: the status, and the answer once there is one.
type resultOutput struct {
	envelope.StatusBody
	FeedbackURL string             `json:"feedbackUrl"`
	Feedback    *envelope.Feedback `json:"feedback,omitempty"`
	Metadata    any                `json:"metadata,omitempty"`
	Instruction string             `json:"instruction,omitempty"`
}

// createArgs are interactive_feedback's arguments: a question's part of
// the create request (an approval is request_approval's), and the wait.
type createArgs struct {
	Message           string                `json:"message"`
	PredefinedOptions []string              `json:"predefinedOptions,omitempty"`
	Timeout           *sessions.Number      `json:"timeout,omitempty"`
	Metadata          json.RawMessage       `json:"metadata,omitempty"`
	Title             string                `json:"title,omitempty"`
	MultiSelect       *bool                 `json:"multiSelect,omitempty"`
	Fields            json.RawMessage       `json:"fields,omitempty"`
	Images            []sessions.ImageInput `json:"images,omitempty"`
	Notify            *bool                 `json:"notify,omitempty"`
	WaitSeconds       *sessions.Number      `json:"waitSeconds,omitempty"`
}

func (a *createArgs) request() *sessions.CreateRequest {
	return &sessions.CreateRequest{
		Message: a.Message, PredefinedOptions: a.PredefinedOptions, Timeout: a.Timeout, Metadata: a.Metadata,
		Title: a.Title, MultiSelect: a.MultiSelect, Fields: a.Fields, Images: a.Images, Notify: a.Notify,
	}
}

type resultArgs struct {
	SessionID   string           `json:"sessionId"`
	WaitSeconds *sessions.Number `json:"waitSeconds,omitempty"`
}

type statusArgs struct {
	SessionID string `json:"sessionId"`
}

func (t *tools) interactiveFeedback(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args createArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	wait, err := t.waitFor(args.WaitSeconds)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	info := infoFrom(ctx)
	if wait > 0 {
		// Before the session exists: a call refused for too many waits
		// leaves nothing behind.
		release, err := t.slot(info.principal.ID)
		if err != nil {
			return t.toolError(ctx, err), nil
		}
		defer release()
	}
	if req.Params.RequestState != "" {
		// A 2026-07-28 retry carrying the person's in-client answer.
		got, err := t.resume(ctx, req, wait, info.baseURL)
		if err != nil {
			return t.toolError(ctx, err), nil
		}
		return t.askedResult(ctx, got, info.baseURL)
	}
	if info.allowCreate != nil {
		if err := info.allowCreate(); err != nil {
			return t.toolError(ctx, err), nil
		}
	}
	cr := args.request()
	cr.CallRef = callRef(ctx, req)
	sess, err := t.svc.Create(ctx, info.principal.ID, cr)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	if a := t.askFirst(ctx, sess, wait, info.baseURL); a != nil {
		return inputRequired(a, sess), nil
	}
	got, err := t.awaitAsking(ctx, req, sess, wait, info.baseURL)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	return t.askedResult(ctx, got, info.baseURL)
}

func (t *tools) getFeedbackResult(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args resultArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	wait, err := t.waitFor(args.WaitSeconds)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	info := infoFrom(ctx)
	sess, err := t.svc.GetOwned(ctx, info.principal.ID, args.SessionID)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	if wait > 0 && !sess.Status.Terminal() {
		release, err := t.slot(info.principal.ID)
		if err != nil {
			return t.toolError(ctx, err), nil
		}
		defer release()
	}
	sess, stopped, err := t.await(ctx, req, sess, wait)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	return t.result(ctx, sess, info.baseURL, stopped)
}

// slot takes one of the principal's wait slots.
func (t *tools) slot(principal string) (release func(), err error) {
	if t.acquireWait == nil {
		return func() {}, nil
	}
	return t.acquireWait(principal)
}

func (t *tools) checkFeedbackStatus(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args statusArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	info := infoFrom(ctx)
	sess, err := t.svc.GetOwned(ctx, info.principal.ID, args.SessionID)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	out := statusOutput{StatusBody: envelope.StatusOf(sess, info.baseURL), FeedbackURL: envelope.FeedbackURL(info.baseURL, sess.ID)}
	text := fmt.Sprintf("Session %s is %s. Created %s, expires %s.", sess.ID, sess.Status, out.CreatedAt, out.ExpiresAt)
	if out.SubmittedAt != "" {
		text += " Answered " + out.SubmittedAt + "; call get_feedback_result to read the answer."
	}
	if sess.Status == sessions.StatusPending {
		text += " The person answers at " + out.FeedbackURL + "."
	}
	return mcpgo.NewToolResultStructured(out, text), nil
}

// waitFor turns the waitSeconds argument into a duration; absent means the
// configured default.
func (t *tools) waitFor(n *sessions.Number) (time.Duration, error) {
	if n == nil {
		return t.wait, nil
	}
	secs, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || secs < 0 || secs > maxWaitSeconds {
		return 0, sessions.Invalid("waitSeconds", fmt.Sprintf("must be a whole number of seconds from 0 to %d", maxWaitSeconds))
	}
	return time.Duration(secs) * time.Second, nil
}

// await blocks until sess is answered, ends, or wait runs out. It is woken
// by the change feed (Service.Wait), never by polling. While it waits it
// sends progress notifications when the client asked for them. stopped
// says the server cut the wait short to shut down.
func (t *tools) await(ctx context.Context, req mcpgo.CallToolRequest, sess *sessions.Session, wait time.Duration) (_ *sessions.Session, stopped bool, _ error) {
	if wait <= 0 || sess.Status.Terminal() {
		return sess, false, nil
	}
	wctx, cancel := t.waitContext(ctx)
	defer cancel()
	var token mcpgo.ProgressToken
	if req.Params.Meta != nil {
		token = req.Params.Meta.ProgressToken
	}
	var got *sessions.Session
	var err error
	if token == nil || t.progress <= 0 {
		got, err = t.svc.Wait(wctx, sess.Owner, sess.ID, wait)
	} else {
		total := math.Round(max(min(wait, time.Until(sess.ExpiresAt)), 0).Seconds()*1000) / 1000
		pctx, stop := context.WithCancel(wctx)
		var wg sync.WaitGroup
		wg.Go(func() { t.reportProgress(pctx, token, total) })
		got, err = t.svc.Wait(pctx, sess.Owner, sess.ID, wait)
		stop()
		wg.Wait()
	}
	stopped = err == nil && got.Status == sessions.StatusPending && ctx.Err() == nil &&
		errors.Is(context.Cause(wctx), httpbridge.ErrShuttingDown)
	return got, stopped, err
}

// reportProgress sends notifications/progress every t.progress until ctx
// ends. The final state is never announced this way: a notification sent
// just before the result may be dropped by the transport, the result never.
// Progress must increase with every notification (MCP basic/utilities/
// progress): a tick that comes late, right before the next one, rounds to
// the same millisecond and is skipped.
func (t *tools) reportProgress(ctx context.Context, token mcpgo.ProgressToken, total float64) {
	start := time.Now()
	tick := time.NewTicker(t.progress)
	defer tick.Stop()
	last := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		elapsed := time.Since(start).Seconds()
		progress := math.Round(elapsed*1000) / 1000
		if progress <= last {
			continue
		}
		last = progress
		_ = t.srv.SendNotificationToClient(ctx, string(mcpgo.MethodNotificationProgress), map[string]any{
			"progressToken": token,
			"progress":      progress,
			"total":         total,
			"message":       fmt.Sprintf("Waiting for the person to answer (%.0fs of %.0fs).", elapsed, total),
		})
	}
}

// result renders a session for interactive_feedback and get_feedback_result.
// The person's images follow the text as image content, so that the model
// sees them; structuredContent names them with their URLs. stopped says the
// wait was cut short because this server is shutting down.
func (t *tools) result(ctx context.Context, sess *sessions.Session, baseURL string, stopped bool) (*mcpgo.CallToolResult, error) {
	out := resultOutput{StatusBody: envelope.StatusOf(sess, baseURL), FeedbackURL: envelope.FeedbackURL(baseURL, sess.ID)}
	var text string
	switch sess.Status {
	case sessions.StatusCompleted:
		res, err := envelope.ResultOf(sess, baseURL)
		if err != nil {
			return t.toolError(ctx, err), nil
		}
		out.Feedback, out.Metadata = &res.Feedback, res.Metadata
		text = "The person answered:\n\n" + res.Feedback.CombinedFeedback
		if len(sess.Feedback.Images) > 0 {
			result := mcpgo.NewToolResultStructured(out, text)
			result.Content = append(result.Content, t.imageContents(ctx, sess)...)
			return result, nil
		}
	case sessions.StatusPending:
		out.Instruction = fmt.Sprintf("No answer yet. To keep waiting, call %s with sessionId %q.", toolGetFeedbackResult, sess.ID)
		if stopped {
			out.Instruction = fmt.Sprintf("The server stopped waiting because it is shutting down; the answer is still pending. To keep waiting, call %s with sessionId %q (in a moment, if this server is restarting).", toolGetFeedbackResult, sess.ID)
		}
		text = fmt.Sprintf("No answer yet: session %s is still pending until %s. The person answers at %s. %s",
			sess.ID, out.ExpiresAt, out.FeedbackURL, out.Instruction)
	case sessions.StatusExpired:
		text = fmt.Sprintf("Session %s expired at %s without an answer. Call %s again if you still need one.", sess.ID, out.ExpiresAt, toolInteractiveFeedback)
	case sessions.StatusCancelled:
		switch sess.CancelReason {
		case declinedReason:
			text = fmt.Sprintf("The person declined to answer: session %s is cancelled (%s); no answer will come.", sess.ID, sess.CancelReason)
		case "":
			text = fmt.Sprintf("Session %s was cancelled; no answer will come.", sess.ID)
		default:
			text = fmt.Sprintf("Session %s was cancelled (%s); no answer will come.", sess.ID, sess.CancelReason)
		}
	}
	return mcpgo.NewToolResultStructured(out, text), nil
}

// imageContents reads the person's images as MCP image content. An image
// that cannot be read is named in a text content instead: the answer is
// worth more than failing the call over one image.
func (t *tools) imageContents(ctx context.Context, sess *sessions.Session) []mcpgo.Content {
	out := make([]mcpgo.Content, 0, len(sess.Feedback.Images))
	for _, img := range sess.Feedback.Images {
		data, err := t.readImage(ctx, sess, img.ID)
		if err != nil {
			t.log.WarnContext(ctx, "MCP result: an image could not be read", "session", sess.ID, "image", img.ID, "err", err)
			out = append(out, mcpgo.NewTextContent(fmt.Sprintf("(The image %q could not be read just now: %s. Fetch it later from feedback.images in the structured result.)", img.Name, sessions.ErrorCode(err))))
			continue
		}
		out = append(out, mcpgo.NewImageContent(base64.StdEncoding.EncodeToString(data), img.MimeType))
	}
	return out
}

func (t *tools) readImage(ctx context.Context, sess *sessions.Session, imageID string) ([]byte, error) {
	_, rc, err := t.svc.OwnerImage(ctx, sess.Owner, sess.ID, imageID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, sessions.Unavailable("read image", err)
	}
	return data, nil
}

// decodeArgs reads a tool's arguments with the rules of a REST body
// (envelope.Decode), so the same input gets the same complaint on both.
func decodeArgs(req mcpgo.CallToolRequest, v any) error {
	raw := []byte(req.Params.RawArguments)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	err := envelope.Decode(raw, v)
	var e *sessions.Error
	if errors.As(err, &e) && e.Field == "body" {
		return sessions.Invalid("arguments", e.Reason)
	}
	return err
}

// toolError is the isError result of docs/mcp.md: a clear message for the
// agent, never a protocol error. Internal causes stay in the logs of the
// caller.
func (t *tools) toolError(ctx context.Context, err error) *mcpgo.CallToolResult {
	var e *sessions.Error
	if !errors.As(err, &e) {
		e = &sessions.Error{Code: sessions.CodeInternal, Message: "internal error", Err: err}
	}
	if envelope.Status(e.Code) >= 500 {
		t.log.ErrorContext(ctx, "MCP tool call failed", "code", e.Code, "err", err)
	}
	msg := e.Message
	switch e.Code {
	case sessions.CodeInvalidRequest:
		msg = "Invalid arguments: " + e.Message
	case sessions.CodeNotFound:
		msg = "Session not found: no session with this id belongs to you (it may never have existed, or it finished long enough ago to be purged)."
	case sessions.CodeServiceUnavailable:
		msg = "Session storage is unavailable right now; try again shortly."
	case sessions.CodeInternal:
		msg = "Internal error; try again."
	}
	return mcpgo.NewToolResultError(strings.TrimSpace(string(e.Code) + ": " + msg))
}
