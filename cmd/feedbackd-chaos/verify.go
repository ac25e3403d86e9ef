package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

type report struct {
	sessions      int
	byStatus      map[string]int
	byFate        map[string]int
	accepted      int
	ambiguous     int
	feedSessions  int
	kills         []string
	wsWatchers    int
	wsReconnected int
	mcp           map[string]*mcpStat
	hooks         hookStats
	problems      []string
	failed        map[string]bool // invariant → broken
}

// The invariants the run checks, each reported as passed or failed.
const (
	invTerminal    = "every session ends in exactly one terminal state"
	invAnswers     = "every accepted answer is readable in the result"
	invOnce        = "every session finished (and expired) at most once on the feed"
	invWebSocket   = "WebSocket clients hold the final status"
	invMCPStream   = "MCP over Streamable HTTP completed its calls"
	invMCPSSE      = "MCP over SSE completed its calls"
	invHookCreated = "every acknowledged session's question reached the webhook"
	invHookFinal   = "every session's end reached the webhook, matching its status"
	invHookID      = "every redelivery of an event carried the same webhook-id"
	invHookSigned  = "every webhook delivery carried a valid signature"
	invKills       = "one edge, notifier, expirer, dispatcher and NATS node were killed"
)

var invariants = []string{invTerminal, invAnswers, invOnce, invWebSocket, invMCPStream, invMCPSSE,
	invHookCreated, invHookFinal, invHookID, invHookSigned, invKills}

func (r *report) problem(inv, format string, args ...any) {
	if r.failed == nil {
		r.failed = map[string]bool{}
	}
	r.failed[inv] = true
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func verify(ctx context.Context, a *api, all []*tracked, watchers []*wsWatcher, feed *feedLog, mcpStats map[string]*mcpStat, hooks *hookLog) *report {
	r := &report{sessions: len(all), byStatus: map[string]int{}, byFate: map[string]int{}, mcp: mcpStats}
	final := map[string]string{}
	for _, t := range all {
		r.byFate[t.fate.String()]++
		if t.accepted {
			r.accepted++
		}
		if t.ambiguous {
			r.ambiguous++
		}
		st, err := status(ctx, a, t.id)
		if err != nil {
			r.problem(invTerminal, "%s (%s): status unreadable: %v", t.id, t.fate, err)
			continue
		}
		final[t.id] = st
		r.byStatus[st]++
		switch {
		case st == "pending":
			r.problem(invTerminal, "%s (%s): still pending after its deadline", t.id, t.fate)
		case t.accepted && st != "completed":
			r.problem(invAnswers, "%s: answer accepted (200) but the session is %s", t.id, st)
		case t.cancelled && st != "cancelled":
			r.problem(invTerminal, "%s: cancel accepted (200) but the session is %s", t.id, st)
		case t.fate == fateExpire || t.fate == fateMCP:
			if st != "expired" {
				r.problem(invTerminal, "%s (%s): left alone but ended %s", t.id, t.fate, st)
			}
		case t.failed != "" && !t.ambiguous:
			r.problem(invTerminal, "%s (%s): %s", t.id, t.fate, t.failed)
		}
		if st == "completed" && (t.accepted || t.ambiguous) {
			got, err := result(ctx, a, t.id)
			if err != nil {
				r.problem(invAnswers, "%s: answer accepted but the result is unreadable: %v", t.id, err)
			} else if got != t.answer {
				r.problem(invAnswers, "%s: result %q, sent %q", t.id, got, t.answer)
			}
		}
		terms := feed.terminal(t.id)
		switch {
		case len(terms) == 0:
			r.problem(invOnce, "%s: the change feed never carried its %s", t.id, st)
		case len(terms) > 1:
			r.problem(invOnce, "%s: %d terminal transitions on the feed: %v", t.id, len(terms), terms)
		case terms[0] != st:
			r.problem(invOnce, "%s: the feed says %s, the API says %s", t.id, terms[0], st)
		}
	}
	// Sessions the load never learnt about (a create whose reply was lost)
	// must still have finished at most once.
	for _, id := range feed.sessions() {
		r.feedSessions++
		if n := len(feed.terminal(id)); n > 1 {
			r.problem(invOnce, "%s: %d terminal transitions on the feed", id, n)
		}
	}
	for _, w := range watchers {
		st, reconnects, connected := w.result()
		r.wsWatchers++
		if reconnects > 0 {
			r.wsReconnected++
		}
		if !connected {
			r.problem(invWebSocket, "WebSocket for %s never connected", w.id)
			continue
		}
		if want := final[w.id]; st != want {
			r.problem(invWebSocket, "WebSocket for %s holds %q, the session is %q (%d reconnects)", w.id, st, want, reconnects)
		}
	}
	for name, s := range mcpStats {
		inv := invMCPStream
		if name == "sse" {
			inv = invMCPSSE
		}
		if s.completed == 0 {
			r.problem(inv, "MCP over %s completed no call (last error: %s)", name, s.lastErr)
		}
		if s.gaveUp > 0 {
			r.problem(inv, "MCP over %s: %d calls never completed (last error: %s)", name, s.gaveUp, s.lastErr)
		}
	}
	finals := make(map[string]string, len(all))
	for _, t := range all {
		finals[t.id] = final[t.id]
	}
	r.verifyHooks(hooks, finals)
	return r
}

func status(ctx context.Context, a *api, id string) (string, error) {
	r, _, err := a.call(ctx, "GET", "/api/feedback/"+id+"/status", nil, true, 30*time.Second)
	if err != nil {
		return "", err
	}
	if r.status != 200 {
		return "", fmt.Errorf("%d %s", r.status, r.code)
	}
	var d struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r.data, &d); err != nil {
		return "", err
	}
	return d.Status, nil
}

func result(ctx context.Context, a *api, id string) (string, error) {
	r, _, err := a.call(ctx, "GET", "/api/feedback/"+id+"/result", nil, true, 30*time.Second)
	if err != nil {
		return "", err
	}
	if r.status != 200 {
		return "", fmt.Errorf("%d %s", r.status, r.code)
	}
	var d struct {
		Feedback struct {
			CombinedFeedback string `json:"combinedFeedback"`
		} `json:"feedback"`
	}
	if err := json.Unmarshal(r.data, &d); err != nil {
		return "", err
	}
	return d.Feedback.CombinedFeedback, nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n== chaos report ==\n")
	fmt.Fprintf(w, "killed (SIGKILL, then restarted): %s\n", strings.Join(r.kills, ", "))
	fmt.Fprintf(w, "sessions tracked: %d  by plan: %v\n", r.sessions, sortedMap(r.byFate))
	fmt.Fprintf(w, "final statuses:   %v\n", sortedMap(r.byStatus))
	fmt.Fprintf(w, "answers accepted: %d (unanswered submits after retries: %d)\n", r.accepted, r.ambiguous)
	fmt.Fprintf(w, "sessions finished on the change feed: %d\n", r.feedSessions)
	fmt.Fprintf(w, "WebSocket watchers: %d, of which reconnected: %d\n", r.wsWatchers, r.wsReconnected)
	for _, name := range []string{"streamable", "sse"} {
		s := r.mcp[name]
		fmt.Fprintf(w, "MCP %-10s completed %d calls, %d after a retry, %d gave up\n", name, s.completed, s.retried, s.gaveUp)
	}
	h := r.hooks
	fmt.Fprintf(w, "webhook events accepted: %d for %d sessions (%s), %d of sessions the load never learnt of\n",
		h.events, h.sessions, sortedMap(h.byType), h.unknown)
	fmt.Fprintf(w, "webhook redeliveries: %d duplicates under the same webhook-id; %d events refused once on purpose (503) and retried\n",
		h.duplicates, h.refused)
	late := 0
	for _, n := range h.lateByType {
		late += n
	}
	fmt.Fprintf(w, "webhook event → first arrival: p50 %s, p99 %s, max %s; %d later than %s (%s)\n",
		stats.Percentile(h.latencies, 0.5).Round(time.Millisecond), stats.Percentile(h.latencies, 0.99).Round(time.Millisecond),
		stats.Percentile(h.latencies, 1).Round(time.Millisecond), late, lateAfter, sortedMap(h.lateByType))
	fmt.Fprintf(w, "webhook events still missing when every session had finished: %d (waited %s more for them)\n",
		h.lateAfterWait, h.waited.Round(100*time.Millisecond))
	fmt.Fprintf(w, "problems: %d\n", len(r.problems))
	for i, p := range r.problems {
		if i == 30 {
			fmt.Fprintf(w, "  … %d more\n", len(r.problems)-30)
			break
		}
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

// checkKills records whether each kind of process was killed at least once.
func (r *report) checkKills() {
	kinds := map[string]bool{}
	for _, k := range r.kills {
		kinds[k[:strings.LastIndex(k, "-")]] = true
	}
	for _, want := range killKinds {
		if !kinds[want] {
			r.problem(invKills, "no %s was killed: run longer or kill more often", want)
		}
	}
}

// summary prints each invariant's verdict and the closing count line.
func (r *report) summary(w io.Writer) error {
	passed, failed := 0, 0
	for _, inv := range invariants {
		verdict := "ok  "
		if r.failed[inv] {
			verdict = "FAIL"
			failed++
		} else {
			passed++
		}
		fmt.Fprintf(w, "%s %s\n", verdict, inv)
	}
	fmt.Fprintf(w, "chaos: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d invariants broken", failed, len(invariants))
	}
	return nil
}

func sortedMap(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
