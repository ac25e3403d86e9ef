package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// Resources (docs/mcp.md, "Resources"): every session is the resource
// feedback://sessions/{id}, its status and result as JSON, readable by its
// owner only; resources/list lists the caller's pending sessions; a
// subscription to a session's resource gets notifications/resources/updated
// on every change, woken by the change feed.

const (
	sessionURIPrefix   = "feedback://sessions/"
	sessionURITemplate = sessionURIPrefix + "{id}"
	sessionMIMEType    = "application/json"
)

// maxSubscriptions bounds one MCP session's resource subscriptions.
const maxSubscriptions = 100

// sessionIDOf reads the session id of a session resource's URI.
func sessionIDOf(uri string) (string, bool) {
	id, ok := strings.CutPrefix(uri, sessionURIPrefix)
	return id, ok && sessions.CheckID(id) == nil
}

// registerResources adds the session template and what lists and
// subscribes to it.
func (t *tools) registerResources(hooks *server.Hooks, subs *subscriptions) {
	t.srv.AddResourceTemplate(mcpgo.NewResourceTemplate(sessionURITemplate, "feedback-session",
		mcpgo.WithTemplateTitle("Feedback session"),
		mcpgo.WithTemplateDescription("A feedback session you created: its status, question and, once answered, the answer, as JSON "+
			"(the status and result of the REST API). Subscribe to hear of every change."),
		mcpgo.WithTemplateMIMEType(sessionMIMEType),
	), func(ctx context.Context, req mcpgo.ReadResourceRequest) ([]mcpgo.ResourceContents, error) {
		return t.sessionContents(ctx, req.Params.URI)
	})
	hooks.AddAfterListResources(t.listPending)
	hooks.AddBeforeSubscriptionsListen(func(ctx context.Context, _ any, req *mcpgo.SubscriptionsListenRequest) {
		t.listen(ctx, subs.hub, req)
	})
}

// sessionDoc is a session resource's JSON: the status, and the answer once
// there is one, as interactive_feedback's result says them.
type sessionDoc = resultOutput

// sessionContents reads a session resource for its owner.
func (t *tools) sessionContents(ctx context.Context, uri string) ([]mcpgo.ResourceContents, error) {
	id, ok := sessionIDOf(uri)
	if !ok {
		return nil, fmt.Errorf("%w: %s", server.ErrResourceNotFound, uri)
	}
	info := infoFrom(ctx)
	sess, err := t.svc.GetOwned(ctx, info.principal.ID, id)
	if err != nil {
		if sessions.ErrorCode(err) == sessions.CodeNotFound {
			return nil, fmt.Errorf("%w: %s", server.ErrResourceNotFound, uri)
		}
		return nil, err
	}
	doc := sessionDoc{StatusBody: envelope.StatusOf(sess, info.baseURL), FeedbackURL: envelope.FeedbackURL(info.baseURL, sess.ID)}
	if sess.Status == sessions.StatusCompleted {
		res, err := envelope.ResultOf(sess, info.baseURL)
		if err != nil {
			return nil, err
		}
		doc.Feedback, doc.Metadata = &res.Feedback, res.Metadata
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode session resource: %w", err)
	}
	return []mcpgo.ResourceContents{mcpgo.TextResourceContents{URI: uri, MIMEType: sessionMIMEType, Text: string(b)}}, nil
}

// readResource answers resources/read of a session resource, with
// "resource not found" (-32002) for a session that is not the caller's.
func (t *tools) readResource(ctx context.Context, id json.RawMessage, uri string) any {
	contents, err := t.sessionContents(ctx, uri)
	switch {
	case errors.Is(err, server.ErrResourceNotFound):
		return rpcFailure(id, mcpgo.RESOURCE_NOT_FOUND, "Resource not found", map[string]any{"uri": uri})
	case err != nil:
		return rpcFailureOf(id, err)
	}
	return rpcResult(id, mcpgo.ReadResourceResult{Contents: contents})
}

// listPending adds the caller's pending sessions to resources/list (the
// newest sessions.MaxListLimit; list_feedback pages through all).
func (t *tools) listPending(ctx context.Context, _ any, _ *mcpgo.ListResourcesRequest, res *mcpgo.ListResourcesResult) {
	info := infoFrom(ctx)
	if res == nil || info.principal.ID == "" {
		return
	}
	page, err := t.svc.List(ctx, info.principal.ID, sessions.ListQuery{Status: sessions.StatusPending, Limit: sessions.MaxListLimit})
	if err != nil {
		t.log.WarnContext(ctx, "resources/list without the pending sessions", "err", err)
		return
	}
	for _, sess := range page.Items {
		title := sess.Title
		if title == "" && sess.Approval != nil {
			title = "Approve: " + sess.Approval.Action
		}
		if title == "" {
			title = sessions.Preview(sess.Message, 80)
		}
		r := mcpgo.NewResource(sessionURIPrefix+sess.ID, "feedback-session-"+sess.ID,
			mcpgo.WithResourceDescription(fmt.Sprintf("Pending until %s: %s", envelope.Time(sess.ExpiresAt), sessions.Preview(sess.Message, 200))),
			mcpgo.WithMIMEType(sessionMIMEType))
		r.Title = title
		res.Resources = append(res.Resources, r)
	}
}

// updated is the notification a subscriber gets when a session changes.
func updated(uri string) mcpgo.JSONRPCNotification {
	return mcpgo.JSONRPCNotification{
		JSONRPC: mcpgo.JSONRPC_VERSION,
		Notification: mcpgo.Notification{
			Method: string(mcpgo.MethodNotificationResourceUpdated),
			Params: mcpgo.NotificationParams{AdditionalFields: map[string]any{"uri": uri}},
		},
	}
}

// listen is the 2026-07-28 form of subscribing: a subscriptions/listen
// request names the resources, and notifications go on its stream while it
// lasts. Only the caller's sessions stay in the request, so the
// acknowledgement says what was established.
func (t *tools) listen(ctx context.Context, hub *sessions.Hub, req *mcpgo.SubscriptionsListenRequest) {
	cs := server.ClientSessionFromContext(ctx)
	uris := req.Params.Notifications.ResourceSubscriptions
	if cs == nil || len(uris) == 0 {
		return
	}
	info := infoFrom(ctx)
	var kept []string
	for _, uri := range uris {
		id, ok := sessionIDOf(uri)
		if !ok || len(kept) == maxSubscriptions {
			continue
		}
		sess, err := t.svc.GetOwned(ctx, info.principal.ID, id)
		if err != nil {
			continue
		}
		kept = append(kept, uri)
		n := updated(uri)
		read := sess.Revision
		stop := hub.Subscribe(id, func(s *sessions.Session) {
			if s.Revision <= read {
				return // a version the feed brings late, not a change since
			}
			select {
			case cs.NotificationChannel() <- n:
			default: // a stream that does not keep up misses an update, not the next
			}
		})
		context.AfterFunc(ctx, stop)
	}
	req.Params.Notifications.ResourceSubscriptions = kept
}

// subscriptions are the resource subscriptions of the MCP sessions whose
// requests reached this replica (resources/subscribe, before 2026-07-28).
// Each is a subscription to the change feed's hub that sends
// notifications/resources/updated through the MCP session; it ends on
// resources/unsubscribe or when the MCP session ends here.
type subscriptions struct {
	hub *sessions.Hub
	log *slog.Logger

	mu sync.Mutex
	m  map[string]map[string]func() // MCP session → URI → stop
}

// add subscribes mcpSession to uri, the resource of session id, whose
// version read before subscribing had revision read: a version the change
// feed delivers late, at or before it, is no change. send delivers a
// notification to the MCP session.
func (s *subscriptions) add(mcpSession, uri, id string, read uint64, send func(mcpgo.JSONRPCNotification) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]map[string]func())
	}
	set := s.m[mcpSession]
	if _, ok := set[uri]; ok {
		return nil
	}
	if len(set) >= maxSubscriptions {
		return sessions.Invalid("uri", fmt.Sprintf("this MCP session already has %d subscriptions; unsubscribe from some first", maxSubscriptions))
	}
	if set == nil {
		set = make(map[string]func())
		s.m[mcpSession] = set
	}
	n := updated(uri)
	set[uri] = s.hub.Subscribe(id, func(sess *sessions.Session) {
		if sess.Revision <= read {
			return
		}
		// Runs on the change feed's goroutine: send never blocks.
		if err := send(n); err != nil {
			s.log.Debug("a resource update found no stream here", "uri", uri, "err", err)
		}
	})
	return nil
}

// remove ends mcpSession's subscription to uri, if any.
func (s *subscriptions) remove(mcpSession, uri string) {
	s.mu.Lock()
	stop := s.m[mcpSession][uri]
	delete(s.m[mcpSession], uri)
	if len(s.m[mcpSession]) == 0 {
		delete(s.m, mcpSession)
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// dropSession is an OnUnregisterSession hook: an MCP session that ends
// here takes its subscriptions with it.
func (s *subscriptions) dropSession(_ context.Context, cs server.ClientSession) {
	s.mu.Lock()
	set := s.m[cs.SessionID()]
	delete(s.m, cs.SessionID())
	s.mu.Unlock()
	for _, stop := range set {
		stop()
	}
}

// close ends every subscription.
func (s *subscriptions) close() {
	s.mu.Lock()
	all := s.m
	s.m = nil
	s.mu.Unlock()
	for _, set := range all {
		for _, stop := range set {
			stop()
		}
	}
}

// count returns how many subscriptions are open here.
func (s *subscriptions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.m {
		n += len(set)
	}
	return n
}

// subscription answers resources/subscribe and resources/unsubscribe for
// the request's MCP session. Only the caller's own sessions can be
// subscribed to; anything else is "resource not found".
func (m *Server) subscription(ctx context.Context, method mcpgo.MCPMethod, id, params json.RawMessage) any {
	var p struct {
		URI string `json:"uri"`
	}
	if json.Unmarshal(params, &p) != nil || p.URI == "" {
		return rpcFailure(id, mcpgo.INVALID_PARAMS, "uri is required", nil)
	}
	info := infoFrom(ctx)
	if method == mcpgo.MethodResourcesUnsubscribe {
		m.subs.remove(info.mcpSession, p.URI)
		return rpcResult(id, struct{}{})
	}
	notFound := rpcFailure(id, mcpgo.RESOURCE_NOT_FOUND, "Resource not found", map[string]any{"uri": p.URI})
	sid, ok := sessionIDOf(p.URI)
	if !ok {
		return notFound
	}
	sess, err := m.tools.svc.GetOwned(ctx, info.principal.ID, sid)
	if err != nil {
		if sessions.ErrorCode(err) == sessions.CodeNotFound {
			return notFound
		}
		return rpcFailureOf(id, err)
	}
	mcpSession := info.mcpSession
	send := func(n mcpgo.JSONRPCNotification) error {
		return m.srv.SendNotificationToSpecificClient(mcpSession, n.Method, n.Params.AdditionalFields)
	}
	if info.transport == SSEMessage {
		send = func(n mcpgo.JSONRPCNotification) error { return m.sse.SendEventToSession(mcpSession, n) }
	}
	if err := m.subs.add(mcpSession, p.URI, sid, sess.Revision, send); err != nil {
		return rpcFailureOf(id, err)
	}
	return rpcResult(id, struct{}{})
}
