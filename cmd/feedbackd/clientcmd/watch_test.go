package clientcmd_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

func TestWatchPrintsALinePerEvent(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	p := start(t, m, "watch")
	programtest.WaitFor(t, 30*time.Second, programtest.Until("watching", func() bool {
		return strings.Contains(p.stderr.String(), "following your sessions at "+m.URL())
	}))
	ctx := t.Context()
	answered, err := c.Create(ctx, client.Question{Title: "Release", Message: "Deploy v2\nto prod?"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Create(ctx, client.Question{Message: "Withdrawn one"})
	if err != nil {
		t.Fatal(err)
	}
	// The change feed promises the latest state of each session: wait for
	// the creations before changing the sessions again.
	programtest.WaitFor(t, 20*time.Second, programtest.Until("both creations printed", func() bool {
		return strings.Count(p.stdout.String(), "session_created") == 2
	}))
	submit(t, c, answered.SessionID, client.Answer{FreeText: "Yes,\nship it"})
	if err := c.Cancel(ctx, other.SessionID); err != nil {
		t.Fatal(err)
	}
	a, o := answered.SessionID[:8], other.SessionID[:8]
	want := []string{
		"session_created         " + a + "  pending    Release",
		"session_created         " + o + "  pending    Withdrawn one",
		"session_status_changed  " + a + "  completed  Release",
		"feedback_submitted      " + a + "  completed  Yes, ship it",
		"session_status_changed  " + o + "  cancelled  Withdrawn one",
	}
	clockPrefix := regexp.MustCompile(`^\d\d:\d\d:\d\d  `)
	programtest.WaitFor(t, 20*time.Second, func() error {
		lines := strings.Split(strings.TrimSuffix(p.stdout.String(), "\n"), "\n")
		if len(lines) < len(want) {
			return fmt.Errorf("%d lines so far: %q", len(lines), p.stdout.String())
		}
		for i, l := range lines {
			if !clockPrefix.MatchString(l) || i >= len(want) || l[len("15:04:05  "):] != want[i] {
				t.Fatalf("line %d %q\nall:\n%s", i, l, p.stdout.String())
			}
		}
		return nil
	})
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.exit(t); code != 0 {
		t.Fatalf("watch ended with %d after Ctrl+C: %s", code, p.stderr.String())
	}
}

func TestWatchJSONLinesAreTheServersMessages(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	// Replay from the start: sessions created before watch began.
	created, err := c.Create(t.Context(), client.Question{Message: "Before"})
	if err != nil {
		t.Fatal(err)
	}
	submit(t, c, created.SessionID, client.Answer{FreeText: "done"})
	p := start(t, m, "watch", "--json", "--since", "0")
	var types []string
	programtest.WaitFor(t, 20*time.Second, func() error {
		types = types[:0]
		for l := range strings.SplitSeq(strings.TrimSpace(p.stdout.String()), "\n") {
			if l == "" {
				continue
			}
			var msg struct {
				Type string `json:"type"`
				Data struct {
					SessionID string `json:"sessionId"`
					Revision  uint64 `json:"revision"`
				} `json:"data"`
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal([]byte(l), &msg); err != nil || msg.Timestamp == "" || msg.Data.Revision == 0 || msg.Data.SessionID != created.SessionID {
				t.Fatalf("line %q: %+v %v", l, msg, err)
			}
			types = append(types, msg.Type)
		}
		if len(types) < 2 {
			return fmt.Errorf("%d messages", len(types))
		}
		return nil
	})
	if strings.Join(types, ",") != "session_status_changed,feedback_submitted" {
		t.Fatalf("replayed %v", types)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestWatchRefusedEndsWithAnError(t *testing.T) {
	t.Parallel()
	m, _ := server(t)
	p := startIn(t, t.TempDir(), []string{client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=wrong-key-0123456789-0123456789"}, nil, "watch")
	p.expect(t, 1, "", "UNAUTHORIZED")
}
