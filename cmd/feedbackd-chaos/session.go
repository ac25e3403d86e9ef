package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

type fate int

const (
	fateAnswer fate = iota
	fateCancel
	fateExpire
	fateMCP // created by an MCP client and left to expire
)

func (f fate) String() string {
	return [...]string{"answer", "cancel", "expire", "mcp"}[f]
}

// tracked is one session the load created, with what the load did to it.
type tracked struct {
	id        string
	fate      fate
	answer    string // combinedFeedback we sent
	accepted  bool   // a 200 on submit, or a 409 to a retry of ours
	ambiguous bool   // the submit never got an answer: it may or may not have landed
	cancelled bool   // a 200 on cancel
	failed    string // why the action could not be carried out
}

// newSession creates a session through the load balancer; nil if no edge
// ever answered.
func newSession(ctx context.Context, a *api, i, timeout int) *tracked {
	body := map[string]any{"message": fmt.Sprintf("chaos question %d", i), "predefinedOptions": []string{"yes", "no"}, "timeout": timeout}
	r, _, err := a.call(ctx, "POST", "/api/feedback/create", body, true, 20*time.Second)
	if err != nil || r.status != 201 {
		return nil
	}
	var d struct {
		SessionID string `json:"sessionId"`
	}
	if json.Unmarshal(r.data, &d) != nil || d.SessionID == "" {
		return nil
	}
	f := fateExpire
	switch i % 10 {
	case 0, 1, 2, 3, 4:
		f = fateAnswer
	case 5:
		f = fateCancel
	}
	return &tracked{id: d.SessionID, fate: f}
}

// act answers or cancels the session after a short, random pause.
func (t *tracked) act(ctx context.Context, a *api) {
	if t.fate == fateExpire {
		return
	}
	time.Sleep(200*time.Millisecond + rand.N(3*time.Second))
	switch t.fate {
	case fateAnswer:
		text := fmt.Sprintf("answer for %s", t.id[:8])
		t.answer = "yes\n\n" + text
		r, attempts, err := a.call(context.WithoutCancel(ctx), "POST", "/api/feedback/"+t.id+"/submit",
			map[string]any{"selectedOptions": []string{"yes"}, "freeText": text}, false, 20*time.Second)
		switch {
		case err != nil:
			t.ambiguous, t.failed = true, err.Error()
		case r.status == 200:
			t.accepted = true
		case r.status == 409 && attempts > 1:
			// An earlier attempt of ours landed before its reply was lost.
			t.accepted = true
		default:
			t.failed = fmt.Sprintf("submit: %d %s", r.status, r.code)
		}
	case fateCancel:
		r, attempts, err := a.call(context.WithoutCancel(ctx), "POST", "/api/feedback/"+t.id+"/cancel", nil, true, 20*time.Second)
		switch {
		case err != nil:
			t.failed = err.Error()
		case r.status == 200, r.status == 410 && r.code == "SESSION_CANCELLED" && attempts > 1:
			t.cancelled = true
		default:
			t.failed = fmt.Sprintf("cancel: %d %s", r.status, r.code)
		}
	}
}
