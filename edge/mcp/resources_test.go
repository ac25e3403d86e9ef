package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// watcher is a Go SDK client that records notifications/resources/updated.
type watcher struct {
	*client
	mu      sync.Mutex
	updated []string
}

func (w *watcher) seen(uri string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, u := range w.updated {
		if u == uri {
			n++
		}
	}
	return n
}

func connectWatching(t testing.TB, tc transportCase, baseURL, key string) *watcher {
	t.Helper()
	w := &watcher{}
	w.client = connectOpts(t, tc, baseURL, newKeyTransport(key), &sdk.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *sdk.ResourceUpdatedNotificationRequest) {
			w.mu.Lock()
			w.updated = append(w.updated, req.Params.URI)
			w.mu.Unlock()
		},
	})
	return w
}

func createREST(t testing.TB, baseURL, key string, body map[string]any) string {
	t.Helper()
	code, env := rest(t, http.MethodPost, baseURL+"/api/feedback/create", key, body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, env)
	}
	return env["data"].(map[string]any)["sessionId"].(string)
}

func TestMCPSessionsAreResourcesOfTheirOwner(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	pending := createREST(t, e.url, keyA, map[string]any{"message": "Still open", "title": "Open question"})
	answered := createREST(t, e.url, keyA, map[string]any{"message": "Done"})
	submit(t, e.url, answered, map[string]any{"freeText": "yes"})
	foreign := createREST(t, e.url, keyB, map[string]any{"message": "B's"})
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWatching(t, tc, e.url, keyA)
			tpl, err := c.ListResourceTemplates(ctx, nil)
			if err != nil || !slices.ContainsFunc(tpl.ResourceTemplates, func(r *sdk.ResourceTemplate) bool {
				return r.URITemplate == "feedback://sessions/{id}" && r.MIMEType == "application/json"
			}) {
				t.Fatalf("templates = %+v, %v", tpl, err)
			}
			list, err := c.ListResources(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var uris []string
			for _, r := range list.Resources {
				if strings.HasPrefix(r.URI, "feedback://") {
					uris = append(uris, r.URI)
				}
			}
			if !slices.Equal(uris, []string{"feedback://sessions/" + pending}) {
				t.Fatalf("listed %v, want only the pending session", uris)
			}
			read, err := c.ReadResource(ctx, &sdk.ReadResourceParams{URI: "feedback://sessions/" + answered})
			if err != nil || len(read.Contents) != 1 || read.Contents[0].MIMEType != "application/json" {
				t.Fatalf("read = %+v, %v", read, err)
			}
			var doc struct {
				Status   string `json:"status"`
				Feedback struct {
					FreeText string `json:"freeText"`
				} `json:"feedback"`
				FeedbackURL string `json:"feedbackUrl"`
			}
			if err := json.Unmarshal([]byte(read.Contents[0].Text), &doc); err != nil || doc.Status != "completed" || doc.Feedback.FreeText != "yes" ||
				doc.FeedbackURL != e.url+"/feedback/"+answered {
				t.Fatalf("doc = %s", read.Contents[0].Text)
			}
			for _, uri := range []string{"feedback://sessions/" + foreign, "feedback://sessions/not-a-uuid", "feedback://sessions/" + strings.Repeat("0", 36)} {
				if _, err := c.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "not found") {
					t.Errorf("read %s: %v", uri, err)
				}
			}
		})
	}
}

func TestMCPResourceSubscriptionHearsEveryChange(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			base := e.hub.Subscribers()
			w := connectWatching(t, tc, e.url, keyA)
			id := createREST(t, e.url, keyA, map[string]any{"message": "Watch me"})
			uri := "feedback://sessions/" + id
			if err := w.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}); err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the subscription", func() bool { return e.hub.Subscribers() == base+1 }))
			submit(t, e.url, id, map[string]any{"freeText": "changed"})
			programtest.WaitFor(t, 5*time.Second, programtest.Until("notifications/resources/updated", func() bool { return w.seen(uri) == 1 }))

			foreign := createREST(t, e.url, keyB, map[string]any{"message": "not yours"})
			if tc.protocol != protoModern {
				// Before 2026-07-28 a foreign session is refused; in a
				// subscriptions/listen it is left out of what is established.
				if err := w.Subscribe(ctx, &sdk.SubscribeParams{URI: "feedback://sessions/" + foreign}); err == nil {
					t.Fatal("subscribed to another principal's session")
				}
			}
			if err := w.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: uri}); err != nil {
				t.Fatalf("unsubscribe: %v", err)
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the subscription to end", func() bool { return e.hub.Subscribers() == base }))

			// A subscription ends with its connection too.
			again := createREST(t, e.url, keyA, map[string]any{"message": "Watch me again"})
			if err := w.Subscribe(ctx, &sdk.SubscribeParams{URI: "feedback://sessions/" + again}); err != nil {
				t.Fatal(err)
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the subscription", func() bool { return e.hub.Subscribers() == base+1 }))
			// (A Streamable HTTP session ends with its DELETE.)
			_ = w.Close()
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the connection's subscriptions to end", func() bool { return e.hub.Subscribers() == base }))
		})
	}
}

func TestMCPCancelAndListFeedbackTools(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			var ids []string
			for _, m := range []string{"first", "second", "third"} {
				ids = append(ids, structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": m, "waitSeconds": 0})).SessionID)
			}
			res := c.call(t, ctx, "cancel_feedback", map[string]any{"sessionId": ids[0]})
			if out := structured(t, res); out.Status != "cancelled" || !strings.Contains(text(res), "cancelled") {
				t.Fatalf("cancel = %+v", out)
			}
			if st := restStatus(t, e.url, keyA, ids[0]); st["status"] != "cancelled" || st["cancelReason"] != "withdrawn by the agent" {
				t.Fatalf("REST status = %v", st)
			}
			submit(t, e.url, ids[1], map[string]any{"freeText": "done"})
			for _, tc := range []struct {
				args map[string]any
				want string
			}{
				{map[string]any{"sessionId": ids[0]}, "SESSION_CANCELLED"},
				{map[string]any{"sessionId": ids[1]}, "ALREADY_SUBMITTED"},
				{map[string]any{"sessionId": "nope"}, "INVALID_REQUEST"},
				{map[string]any{}, "INVALID_REQUEST"},
			} {
				if res := c.call(t, ctx, "cancel_feedback", tc.args); !res.IsError || !strings.HasPrefix(text(res), tc.want) {
					t.Errorf("cancel %v: %q", tc.args, text(res))
				}
			}
			other := connect(t, tc, e.url, newKeyTransport(keyB))
			if res := other.call(t, ctx, "cancel_feedback", map[string]any{"sessionId": ids[2]}); !res.IsError || !strings.HasPrefix(text(res), "SESSION_NOT_FOUND") {
				t.Errorf("another principal's cancel: %q", text(res))
			}

			var page struct {
				Items []struct {
					SessionID   string `json:"sessionId"`
					Status      string `json:"status"`
					FeedbackURL string `json:"feedbackUrl"`
				} `json:"items"`
				NextCursor string `json:"nextCursor"`
			}
			res = c.call(t, ctx, "list_feedback", map[string]any{"limit": 2})
			b, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(b, &page); err != nil || res.IsError || len(page.Items) != 2 || page.NextCursor == "" ||
				page.Items[0].FeedbackURL != e.url+"/feedback/"+page.Items[0].SessionID {
				t.Fatalf("page 1 = %s (%s)", b, text(res))
			}
			res = c.call(t, ctx, "list_feedback", map[string]any{"status": "pending"})
			b, _ = json.Marshal(res.StructuredContent)
			page.Items, page.NextCursor = nil, ""
			_ = json.Unmarshal(b, &page)
			var pendingIDs []string
			for _, it := range page.Items {
				pendingIDs = append(pendingIDs, it.SessionID)
			}
			if !slices.Contains(pendingIDs, ids[2]) || slices.Contains(pendingIDs, ids[0]) || slices.Contains(pendingIDs, ids[1]) {
				t.Fatalf("pending = %v", pendingIDs)
			}
			for _, args := range []map[string]any{{"status": "nope"}, {"limit": 0}, {"limit": 1000}, {"limit": 2.5}, {"limit": "2"}, {"cursor": "!!"}, {"limit": "two"}} {
				if res := c.call(t, ctx, "list_feedback", args); !res.IsError || !strings.HasPrefix(text(res), "INVALID_REQUEST") {
					t.Errorf("list %v: %q", args, text(res))
				}
			}
		})
	}
}
