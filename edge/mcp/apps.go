package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/web"
)

// MCP Apps (extension io.modelcontextprotocol/ui; docs/mcp.md, "MCP Apps"):
// a host that declares the extension renders interactive_feedback's and
// request_approval's question inside the conversation, as the app resource
// ui://feedbackd/question, while the call waits. The person answers there,
// through the app-only tool submit_feedback_from_app, and the waiting call
// returns that answer like any other: the submit is the same compare-and-swap
// as the page's.
//
// Everything depends on what the client declared, as the extension asks
// ("servers SHOULD check client capabilities before registering UI-enabled
// tools"): a client that did not declare it sees exactly what it saw before
// the extension existed, in its capabilities, tools/list and resources/list,
// and cannot call the app-only tools. What a client declared is read by
// requestFeatures (features.go). A host of MCP Apps is asked by the app
// only, never by elicitation too (planAsk, elicit.go).

// The extension, its resource and the app-only tools.
const (
	appsExtension = "io.modelcontextprotocol/ui"
	appMIMEType   = "text/html;profile=mcp-app"
	appURI        = "ui://feedbackd/question"

	toolReadForApp       = "read_feedback_for_app"
	toolSubmitFromApp    = "submit_feedback_from_app"
	toolImageForApp      = "read_feedback_image_for_app"
	maxAppWaitSeconds    = 50               // below the usual 60 s a host gives a tool call
	appLegacyResourceKey = "ui/resourceUri" // the extension's deprecated flat key
)

// appLookupPages are the pages of the caller's sessions, newest first, in
// which the app's call is looked for: about the last 200.
var appLookupPages = []int{10, sessions.MaxListLimit, sessions.MaxListLimit}

// showsApp are the tools whose calls the app shows; appOnly are the tools
// only the app may call.
var (
	showsApp = map[string]bool{toolInteractiveFeedback: true, toolRequestApproval: true}
	appOnly  = map[string]bool{toolReadForApp: true, toolSubmitFromApp: true, toolImageForApp: true}
)

// appsSettings is what the server declares of the extension.
func appsSettings() map[string]any {
	return map[string]any{"mimeTypes": []string{appMIMEType}}
}

// withAppsExtension is caps declaring the extension too.
func withAppsExtension(caps mcpgo.ServerCapabilities) mcpgo.ServerCapabilities {
	ext := maps.Clone(caps.Extensions)
	if ext == nil {
		ext = map[string]any{}
	}
	ext[appsExtension] = appsSettings()
	caps.Extensions = ext
	return caps
}

// addAppsHooks declares the extension to the clients that declare it, and
// hides the app resource from the others.
func addAppsHooks(h *server.Hooks) {
	h.AddAfterInitialize(func(_ context.Context, _ any, req *mcpgo.InitializeRequest, res *mcpgo.InitializeResult) {
		if res != nil && declaresApps(&req.Params.Capabilities) {
			res.Capabilities = withAppsExtension(res.Capabilities)
		}
	})
	h.AddAfterDiscover(func(ctx context.Context, _ any, _ *mcpgo.DiscoverRequest, res *mcpgo.DiscoverResult) {
		if res != nil && appsHost(ctx) {
			res.Capabilities = withAppsExtension(res.Capabilities)
		}
	})
	h.AddAfterListResources(func(ctx context.Context, _ any, _ *mcpgo.ListResourcesRequest, res *mcpgo.ListResourcesResult) {
		if res == nil || appsHost(ctx) {
			return
		}
		res.Resources = slices.DeleteFunc(slices.Clone(res.Resources), func(r mcpgo.Resource) bool { return r.URI == appURI })
	})
}

// appToolFilter is a server.ToolFilterFunc: an MCP Apps host sees the tools
// whose calls the app shows with _meta.ui, and the app-only tools; any other
// client sees neither, and mcp-go refuses it the app-only tools at call time
// too.
func appToolFilter(ctx context.Context, tools []mcpgo.Tool) []mcpgo.Tool {
	host := appsHost(ctx)
	out := make([]mcpgo.Tool, 0, len(tools))
	for _, t := range tools {
		switch {
		case appOnly[t.Name] && !host:
		case showsApp[t.Name] && host:
			out = append(out, withToolMeta(t, map[string]any{"resourceUri": appURI}))
		default:
			out = append(out, t)
		}
	}
	return out
}

// withToolMeta is t with _meta.ui set to ui (and the deprecated flat key,
// which older hosts read), keeping any other _meta.
func withToolMeta(t mcpgo.Tool, ui map[string]any) mcpgo.Tool {
	fields := map[string]any{}
	var token mcpgo.ProgressToken
	if t.Meta != nil {
		maps.Copy(fields, t.Meta.AdditionalFields)
		token = t.Meta.ProgressToken
	}
	fields["ui"] = ui
	fields[appLegacyResourceKey] = ui["resourceUri"]
	t.Meta = &mcpgo.Meta{ProgressToken: token, AdditionalFields: fields}
	return t
}

// callRef is the CallRef of a session created by this call: the digest of
// its arguments when an MCP Apps host calls, so that the app can find the
// session; nothing for other clients.
func callRef(ctx context.Context, req mcpgo.CallToolRequest) string {
	if !appsHost(ctx) {
		return ""
	}
	ref, err := appRef(req.Params.RawArguments)
	if err != nil {
		return ""
	}
	return ref
}

// apps serves the app resource and the app-only tools.
type apps struct {
	t      *tools
	render *web.Renderer
	doc    string // the app's document, the same for every call
}

// addApps registers the app resource and the app-only tools on t's server.
// Without the page templates (a defect of the build, which web's tests
// catch) there is no app, and every client sees what a client without the
// extension sees.
func (t *tools) addApps() {
	render, err := web.New()
	var doc []byte
	if err == nil {
		doc, err = render.App()
	}
	if err != nil {
		t.log.Error("MCP App unavailable: the page templates do not load", "err", err)
		return
	}
	a := &apps{t: t, render: render, doc: string(doc)}
	t.srv.AddResource(mcpgo.Resource{
		URI:         appURI,
		Name:        "feedbackd-question",
		Title:       "A question for you",
		Description: "The question of an interactive_feedback or request_approval call, for the person to answer in the conversation (MCP Apps).",
		MIMEType:    appMIMEType,
		Meta:        &mcpgo.Meta{AdditionalFields: map[string]any{"ui": appResourceMeta()}},
	}, a.readResource)
	appMeta := &mcpgo.Meta{AdditionalFields: map[string]any{"ui": map[string]any{"resourceUri": appURI, "visibility": []string{"app"}}}}
	t.srv.AddTool(mcpgo.Tool{
		Meta: appMeta,
		Name: toolReadForApp,
		Description: "For feedbackd's MCP App only (not for the model): finds the session of the interactive_feedback or request_approval call the app shows, " +
			"by sessionId or by the call's arguments, renders its question, and can wait for it to change.",
		RawInputSchema:  readForAppInput,
		RawOutputSchema: readForAppOutput,
		Annotations:     annotations("Show a question in the app", true),
	}, a.read)
	t.srv.AddTool(mcpgo.Tool{
		Meta:            appMeta,
		Name:            toolSubmitFromApp,
		Description:     "For feedbackd's MCP App only (not for the model): submits the person's answer to a session of the caller, as the feedback page does.",
		RawInputSchema:  submitFromAppInput(t.svc.Limits()),
		RawOutputSchema: submitFromAppOutput,
		Annotations:     annotations("Answer from the app", false),
	}, a.submit)
	t.srv.AddTool(mcpgo.Tool{
		Meta:           appMeta,
		Name:           toolImageForApp,
		Description:    "For feedbackd's MCP App only (not for the model): one image of a session of the caller, as image content.",
		RawInputSchema: imageForAppInput,
		Annotations:    annotations("Show an image in the app", true),
	}, a.image)
}

// appResourceMeta is the resource's _meta.ui: the app loads nothing from
// anywhere, so it declares no CSP domains and the host's restrictive default
// applies; it draws its own card.
func appResourceMeta() map[string]any {
	return map[string]any{"prefersBorder": false}
}

func (a *apps) readResource(_ context.Context, req mcpgo.ReadResourceRequest) ([]mcpgo.ResourceContents, error) {
	if req.Params.URI != appURI {
		return nil, fmt.Errorf("no resource %q", req.Params.URI)
	}
	return []mcpgo.ResourceContents{mcpgo.TextResourceContents{
		URI:      appURI,
		MIMEType: appMIMEType,
		Text:     a.doc,
		Meta:     map[string]any{"ui": appResourceMeta()},
	}}, nil
}

// readForAppArgs are read_feedback_for_app's arguments.
type readForAppArgs struct {
	SessionID   string           `json:"sessionId,omitempty"`
	Arguments   json.RawMessage  `json:"arguments,omitempty"`
	Lang        string           `json:"lang,omitempty"`
	HTML        *bool            `json:"html,omitempty"`
	WaitSeconds *sessions.Number `json:"waitSeconds,omitempty"`
}

// appView is read_feedback_for_app's structuredContent.
type appView struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	FeedbackURL string          `json:"feedbackUrl"`
	ExpiresAt   string          `json:"expiresAt"`
	HTML        string          `json:"html,omitempty"`
	Answer      *appAnswer      `json:"answer,omitempty"`
}

// appAnswer is the answer as the owner sees it in the app.
type appAnswer struct {
	CombinedFeedback string `json:"combinedFeedback"`
	SubmittedAt      string `json:"submittedAt,omitempty"`
}

func (a *apps) read(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args readForAppArgs
	if err := decodeArgs(req, &args); err != nil {
		return a.fail(ctx, err), nil
	}
	wait := time.Duration(0)
	if args.WaitSeconds != nil {
		n, err := args.WaitSeconds.Int64()
		if err != nil || n < 0 || n > maxAppWaitSeconds {
			return a.fail(ctx, sessions.Invalid("waitSeconds", fmt.Sprintf("must be a whole number of seconds from 0 to %d", maxAppWaitSeconds))), nil
		}
		wait = time.Duration(n) * time.Second
	}
	if len(args.Lang) > 64 {
		return a.fail(ctx, sessions.Invalid("lang", "must be a language tag")), nil
	}
	info := infoFrom(ctx)
	owner := info.principal.ID
	var sess *sessions.Session
	var err error
	switch {
	case args.SessionID != "" && len(args.Arguments) > 0:
		err = sessions.Invalid("sessionId", "give sessionId or arguments, not both")
	case args.SessionID != "":
		sess, err = a.t.svc.GetOwned(ctx, owner, args.SessionID)
	case len(args.Arguments) > 0:
		sess, err = a.locate(ctx, owner, args.Arguments)
	default:
		err = sessions.Invalid("sessionId", "is required, or the call's arguments")
	}
	if err != nil {
		return a.fail(ctx, err), nil
	}
	if wait > 0 && !sess.Status.Terminal() {
		if sess, err = a.t.svc.Wait(ctx, owner, sess.ID, wait); err != nil {
			return a.fail(ctx, err), nil
		}
	}
	view := appView{
		SessionID:   sess.ID,
		Status:      sess.Status,
		FeedbackURL: envelope.FeedbackURL(info.baseURL, sess.ID),
		ExpiresAt:   envelope.Time(sess.ExpiresAt),
	}
	if sess.Status == sessions.StatusCompleted && sess.Feedback != nil {
		view.Answer = &appAnswer{CombinedFeedback: sess.Feedback.CombinedFeedback, SubmittedAt: envelope.OptTime(sess.SubmittedAt)}
	}
	if args.HTML == nil || *args.HTML {
		var b bytes.Buffer
		if err := a.render.Embedded(&b, a.pageView(sess, args.Lang)); err != nil {
			return a.fail(ctx, fmt.Errorf("render the question for the app: %w", err)), nil
		}
		view.HTML = b.String()
	}
	return mcpgo.NewToolResultStructured(view, fmt.Sprintf("Session %s is %s.", sess.ID, sess.Status)), nil
}

// locate finds the caller's newest session created by a call with these
// arguments (appref.go), among its most recent sessions. The call the app
// shows is nearly always the newest, so the first page is small: a page
// reads every record it lists.
func (a *apps) locate(ctx context.Context, owner string, arguments json.RawMessage) (*sessions.Session, error) {
	ref, err := appRef(arguments)
	if err != nil {
		return nil, sessions.Invalid("arguments", "must be the JSON object of the call's arguments")
	}
	q := sessions.ListQuery{}
	for _, size := range appLookupPages {
		q.Limit = size
		page, err := a.t.svc.List(ctx, owner, q)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Items {
			if s.CallRef == ref {
				return s, nil
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return nil, sessions.Errorf(sessions.CodeNotFound, "no session of yours was created by a call with these arguments")
}

// pageView is the feedback page's view of sess, for the app: no URLs (the
// app talks through the host), images named by id.
func (a *apps) pageView(sess *sessions.Session, lang string) web.PageView {
	l := a.t.svc.Limits()
	v := web.PageView{
		Lang:          web.NegotiateLang(lang, ""),
		Theme:         web.ThemeAuto,
		State:         web.State(sess.Status),
		SessionID:     sess.ID,
		Message:       sess.Message,
		Options:       sess.PredefinedOptions,
		CreatedAt:     sess.CreatedAt,
		ExpiresAt:     sess.ExpiresAt,
		ServerNow:     a.t.svc.Now(),
		MaxFreeText:   l.MaxFreeText,
		Title:         sess.Title,
		SingleSelect:  !sess.MultiSelect(),
		Form:          sess.Fields,
		MaxImages:     l.MaxImages,
		MaxImageBytes: l.MaxImageBytes,
	}
	if sess.Approval != nil {
		v.Approval = &web.Approval{Action: sess.Approval.Action, Details: sess.Approval.Details}
	}
	for _, img := range sess.Images {
		v.Images = append(v.Images, web.Image{ID: img.ID, Name: img.Name, Width: img.Width, Height: img.Height})
	}
	return v
}

// submitFromAppArgs are submit_feedback_from_app's arguments: the session
// and the answer, as the page's JSON submit sends it.
type submitFromAppArgs struct {
	SessionID string `json:"sessionId"`
	sessions.SubmitRequest
}

// appSubmitted is submit_feedback_from_app's structuredContent.
type appSubmitted struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	SubmittedAt string          `json:"submittedAt"`
}

func (a *apps) submit(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args submitFromAppArgs
	if err := decodeArgs(req, &args); err != nil {
		return a.fail(ctx, err), nil
	}
	// The app answers on behalf of the principal it is connected as: only
	// that principal's sessions.
	owner := infoFrom(ctx).principal.ID
	if _, err := a.t.svc.GetOwned(ctx, owner, args.SessionID); err != nil {
		return a.fail(ctx, err), nil
	}
	sess, err := a.t.svc.Submit(ctx, args.SessionID, &args.SubmitRequest)
	if err != nil {
		return a.fail(ctx, err), nil
	}
	out := appSubmitted{SessionID: sess.ID, Status: sess.Status, SubmittedAt: envelope.OptTime(sess.SubmittedAt)}
	return mcpgo.NewToolResultStructured(out, "The answer was sent."), nil
}

// imageForAppArgs are read_feedback_image_for_app's arguments.
type imageForAppArgs struct {
	SessionID string `json:"sessionId"`
	ImageID   string `json:"imageId"`
}

func (a *apps) image(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args imageForAppArgs
	if err := decodeArgs(req, &args); err != nil {
		return a.fail(ctx, err), nil
	}
	sess, err := a.t.svc.GetOwned(ctx, infoFrom(ctx).principal.ID, args.SessionID)
	if err != nil {
		return a.fail(ctx, err), nil
	}
	img := slices.IndexFunc(sess.Images, func(i sessions.Image) bool { return i.ID == args.ImageID })
	if img < 0 {
		return a.fail(ctx, sessions.Errorf(sessions.CodeNotFound, "the question has no image %q", args.ImageID)), nil
	}
	data, err := a.t.readImage(ctx, sess, args.ImageID)
	if err != nil {
		return a.fail(ctx, err), nil
	}
	return &mcpgo.CallToolResult{Content: []mcpgo.Content{
		mcpgo.NewImageContent(base64.StdEncoding.EncodeToString(data), sess.Images[img].MimeType),
	}}, nil
}

// appErrorKey is the _meta key of an app-only tool's error: what the page's
// script reads from the REST envelope's error. Not structuredContent, which
// clients check against the tool's outputSchema even on errors.
const appErrorKey = "feedbackd/error"

// fail is toolError with the code and field also in _meta, for the app to
// show the same message next to the same field as the page.
func (a *apps) fail(ctx context.Context, err error) *mcpgo.CallToolResult {
	res := a.t.toolError(ctx, err)
	detail := map[string]any{"code": string(sessions.CodeInternal)}
	var e *sessions.Error
	if errors.As(err, &e) {
		detail["code"] = string(e.Code)
		if e.Field != "" {
			detail["field"] = e.Field
		}
	}
	if len(res.Content) > 0 {
		if tc, ok := res.Content[0].(mcpgo.TextContent); ok {
			detail["message"] = tc.Text
		}
	}
	res.Meta = &mcpgo.Meta{AdditionalFields: map[string]any{appErrorKey: detail}}
	return res
}

// The app-only tools' schemas. Limits come from the sessions service, as
// for every tool.

var readForAppInput = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"sessionId": sessionIDProperty(),
		"arguments": schema{
			"type": "object",
			"description": "The arguments of the interactive_feedback or request_approval call the app shows, as the host gave them, " +
				"each image's data replaced by its length: finds the caller's newest session made by that call. Not with sessionId.",
		},
		"lang":        schema{"type": "string", "maxLength": 64, "description": "The person's language (BCP 47, from the host context); the question is rendered in Chinese for zh, else English."},
		"html":        schema{"type": "boolean", "default": true, "description": "Render the question (false: only its state)."},
		"waitSeconds": schema{"type": "integer", "minimum": 0, "maximum": maxAppWaitSeconds, "default": 0, "description": "Wait this long for a pending session to end before answering."},
	},
})

var readForAppOutput = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"sessionId":   schema{"type": "string"},
		"status":      schema{"type": "string", "enum": []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled}},
		"feedbackUrl": schema{"type": "string"},
		"expiresAt":   schema{"type": "string"},
		"html":        schema{"type": "string", "description": "The question as the feedback page renders it, without its document."},
		"answer": schema{
			"type":       "object",
			"properties": schema{"combinedFeedback": schema{"type": "string"}, "submittedAt": schema{"type": "string"}},
			"required":   []string{"combinedFeedback"},
		},
	},
	"required": []string{"sessionId", "status", "feedbackUrl", "expiresAt"},
})

func submitFromAppInput(l sessions.Limits) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"sessionId":       sessionIDProperty(),
			"selectedOptions": schema{"type": "array", "items": schema{"type": "string"}, "maxItems": l.MaxOptions},
			"freeText":        schema{"type": "string", "maxLength": l.MaxFreeText},
			"values":          schema{"type": "object", "description": "A form's answers, keyed by field name."},
			"decision":        schema{"type": "string", "enum": []sessions.Decision{sessions.DecisionApprove, sessions.DecisionDeny}},
			"reason":          schema{"type": "string", "maxLength": l.MaxFreeText},
			"images":          imageInputSchema(l),
			"metadata":        schema{"type": "object"},
		},
		"required": []string{"sessionId"},
	})
}

var submitFromAppOutput = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"sessionId":   schema{"type": "string"},
		"status":      schema{"type": "string"},
		"submittedAt": schema{"type": "string"},
	},
	"required": []string{"sessionId", "status", "submittedAt"},
})

var imageForAppInput = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"sessionId": sessionIDProperty(),
		"imageId":   schema{"type": "string", "minLength": 1, "maxLength": 64},
	},
	"required": []string{"sessionId", "imageId"},
})
