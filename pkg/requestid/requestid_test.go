package requestid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/requestid"
)

func TestRequestIDValidAcceptsOnlySafeShortTokens(t *testing.T) {
	good := []string{"a", "abc-123", "A.b_C-9", strings.Repeat("x", requestid.MaxLen)}
	bad := []string{"", strings.Repeat("x", requestid.MaxLen+1), "a b", "a\nb", `a"b`, "a/b", "<script>", "é", "a=b"}
	for _, id := range good {
		if !requestid.Valid(id) {
			t.Errorf("Valid(%q) = false", id)
		}
	}
	for _, id := range bad {
		if requestid.Valid(id) {
			t.Errorf("Valid(%q) = true", id)
		}
	}
}

func TestRequestIDAcceptReplacesMalformedIDs(t *testing.T) {
	if got := requestid.Accept("client-id.1"); got != "client-id.1" {
		t.Fatalf("a valid id is kept: got %q", got)
	}
	for _, offered := range []string{"", "bad id", strings.Repeat("y", 200)} {
		got := requestid.Accept(offered)
		if got == offered || len(got) != 32 || !requestid.Valid(got) {
			t.Fatalf("Accept(%q) = %q, want a fresh 32-character id", offered, got)
		}
	}
	if requestid.New() == requestid.New() {
		t.Fatal("two new ids are equal")
	}
}

func TestRequestIDLogHandlerAddsIDFromContext(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(requestid.NewHandler(slog.NewJSONHandler(&buf, nil))).With("role", "test")
	// Wrapping twice must not log the id twice.
	log = slog.New(requestid.NewHandler(log.Handler()))
	ctx := requestid.NewContext(context.Background(), "rid-42")
	log.InfoContext(ctx, "with id")
	log.Info("without id")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first[requestid.LogKey] != "rid-42" || first["role"] != "test" {
		t.Fatalf("first line: %s", lines[0])
	}
	if strings.Count(lines[0], requestid.LogKey) != 1 {
		t.Fatalf("id logged more than once: %s", lines[0])
	}
	if _, ok := second[requestid.LogKey]; ok {
		t.Fatalf("a record without a request context has no id: %s", lines[1])
	}
}
