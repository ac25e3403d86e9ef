package mcp

import (
	"log/slog"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/sessions"
)

// The change feed may deliver a version of a session after a client
// subscribed to it that it had already read (the feed lags under load): that
// is no change, and the subscriber hears only of versions after the one it
// read.
func TestSubscriptionIgnoresVersionsReadBeforeSubscribing(t *testing.T) {
	hub := sessions.NewHub()
	s := subscriptions{hub: hub, log: slog.New(slog.DiscardHandler)}
	var got []string
	const uri = sessionURIPrefix + "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10"
	if err := s.add("mcp-1", uri, "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10", 5, func(n mcpgo.JSONRPCNotification) error {
		got = append(got, n.Params.AdditionalFields["uri"].(string))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, rev := range []uint64{4, 5, 6, 7} {
		hub.Publish(&sessions.Session{ID: "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10", Revision: rev})
	}
	if len(got) != 2 || got[0] != uri {
		t.Fatalf("notified %v, want the two versions after revision 5", got)
	}
	s.remove("mcp-1", uri)
	hub.Publish(&sessions.Session{ID: "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10", Revision: 8})
	if len(got) != 2 || s.count() != 0 || hub.Subscribers() != 0 {
		t.Fatalf("after unsubscribing: notified %d, %d subscriptions, %d hub subscribers", len(got), s.count(), hub.Subscribers())
	}
}
