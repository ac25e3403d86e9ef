package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// These tests run the built feedbackd binary as separate dispatcher
// processes and kill them with SIGKILL, as a crashed node would be: no
// deferred function, no goodbye to NATS.

// dispatcherProc is one `feedbackd dispatcher` process.
type dispatcherProc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	ops  string // the operations API's URL, once it listens
	logs *syncbuf.Buffer
	done chan struct{}
}

// startDispatcher starts a dispatcher process with env and waits until it
// is ready. It is stopped (SIGTERM) when the test ends, unless killed.
func startDispatcher(t *testing.T, name string, env ...string) *dispatcherProc {
	t.Helper()
	p := &dispatcherProc{t: t, name: name, logs: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), "dispatcher")
	p.cmd.Dir = t.TempDir() // no .env of the developer's
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir(), "DISPATCHER_ADDR=127.0.0.1:0",
		"LOG_LEVEL=debug", "LOG_FORMAT=json"}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop on SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, p.logs.String())
		}
	})
	programtest.WaitFor(t, 30*time.Second, func() error {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", name, p.logs.String())
		default:
		}
		if p.ops = logged(p.logs.String(), "serving /health, /ready and /metrics"); p.ops == "" {
			return fmt.Errorf("%s: no operations address yet", name)
		}
		res, err := http.Get(p.ops + "/ready")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("%s /ready: %d", name, res.StatusCode)
		}
		return nil
	})
	return p
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *dispatcherProc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
}

const (
	procBotToken   telegram.Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	procHookSecret                = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// A dispatcher killed with SIGKILL while a webhook delivery is in flight
// loses nothing: another replica delivers it after the ack wait, with the
// same webhook-id, and takes over the Telegram poll when the lock runs out;
// the question's end edits the chat's message rather than sending another,
// whichever replica handles it, also after the killed one restarts.
func TestDispatcherProcessKilledMidDeliveryLosesNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	binary(t) // built before anything is timed
	ns := programtest.StartNATS(t)
	fake := telegramfake.Start(t, telegramfake.Config{Token: procBotToken})
	chat := telegramfake.DefaultChatID
	recv := dispatchtest.NewWebhookReceiver(t, procHookSecret)
	held := make(chan dispatchtest.WebhookDelivery, 1)
	release := make(chan struct{})
	recv.Respond(func(n int, d dispatchtest.WebhookDelivery) (int, http.Header) {
		if n == 1 {
			held <- d
			select { // until the test ends: its sender is killed meanwhile
			case <-release:
			case <-time.After(time.Minute):
			}
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusNoContent, nil
	})
	t.Cleanup(func() { close(release) }) // before the receiver closes

	edge := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(ns.URL))
	svc, chans := edge.Backend().Service(), edge.Backend().Channels()
	env := []string{
		"NATS_URL=" + ns.URL,
		"PUBLIC_URL=http://feedback.test",
		"NOTIFY_WEBHOOK_URL=" + recv.URL,
		"NOTIFY_WEBHOOK_SECRET=" + procHookSecret,
		"TELEGRAM_BOT_TOKEN=" + string(procBotToken),
		"TELEGRAM_API_URL=" + fake.URL,
		fmt.Sprintf("TELEGRAM_CHAT_ID=%d", chat),
		"DISPATCH_SEND_TIMEOUT=2s",
		"DISPATCH_ACK_WAIT=4s",
	}
	a := startDispatcher(t, "dispatcher A", env...)
	programtest.WaitFor(t, 10*time.Second, programtest.Until("A to poll Telegram", func() bool { return fake.Polling() == 1 }))

	ctx := context.Background()
	s, err := svc.Create(ctx, programtest.PrincipalA, &sessions.CreateRequest{Message: "Roll back the release?",
		PredefinedOptions: []string{"Roll back", "Keep"}, MultiSelect: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	var first dispatchtest.WebhookDelivery
	select {
	case first = <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the webhook was not delivered")
	}
	if first.Type != "session.created" || first.VerifyErr != nil {
		t.Fatalf("first delivery %+v", first)
	}
	// The Telegram announcement is out and recorded by A.
	programtest.WaitFor(t, 10*time.Second, func() error {
		recent, err := chans.Recent(ctx, programtest.PrincipalA)
		if err != nil {
			return err
		}
		for _, o := range recent[channels.KindTelegram] {
			if o.SessionID == s.ID && o.State == channels.Delivered {
				return nil
			}
		}
		return fmt.Errorf("telegram outcomes %+v", recent[channels.KindTelegram])
	})

	startDispatcher(t, "dispatcher B", env...)
	a.kill9() // holding the webhook delivery, and the poll lock
	killedAt := time.Now()

	// B delivers the held webhook, with the same id, once the ack wait ran
	// out.
	programtest.WaitFor(t, 20*time.Second, func() error {
		for _, d := range recv.Accepted() {
			if d.ID == first.ID {
				return nil
			}
		}
		return fmt.Errorf("%d deliveries, none accepted with id %s", len(recv.Deliveries()), first.ID)
	})
	t.Logf("the held delivery was made again %s after the kill", time.Since(killedAt).Round(time.Millisecond))

	// B takes the poll over when A's lock runs out: a press answers.
	q := fake.Messages(chat)[0]
	if _, err := fake.PressOption(chat, q.MessageID, "Roll back"); err != nil {
		t.Fatal(err)
	}
	programtest.WaitFor(t, 30*time.Second, func() error {
		got, err := svc.Get(ctx, s.ID)
		if err != nil || got.Status != sessions.StatusCompleted {
			return fmt.Errorf("session %v %v", got, err)
		}
		return nil
	})
	t.Logf("the press was handled %s after the kill", time.Since(killedAt).Round(time.Millisecond))

	// A comes back. The end reaches both channels once: the chat's message
	// is edited, the webhook told.
	startDispatcher(t, "dispatcher A again", env...)
	programtest.WaitFor(t, 15*time.Second, func() error {
		m, _ := fake.Message(chat, q.MessageID)
		if !strings.Contains(m.Plain, "Answered: Roll back") || m.Keyboard != nil {
			return fmt.Errorf("message %q", m.Plain)
		}
		for _, d := range recv.Accepted() {
			if d.Type == "session.completed" {
				return nil
			}
		}
		return fmt.Errorf("no session.completed accepted")
	})
	// One more question with both replicas up: each channel hears once.
	s2, err := svc.Create(ctx, programtest.PrincipalA, &sessions.CreateRequest{Message: "And the docs?", PredefinedOptions: []string{"Yes"}})
	if err != nil {
		t.Fatal(err)
	}
	programtest.WaitFor(t, 15*time.Second, func() error {
		if len(fake.Messages(chat)) < 2 {
			return fmt.Errorf("second question not in the chat")
		}
		for _, d := range recv.Accepted() {
			if strings.Contains(string(d.Body), s2.ID) {
				return nil
			}
		}
		return fmt.Errorf("second question's webhook not accepted")
	})

	for _, c := range fake.Calls("getUpdates") {
		if c.Status == http.StatusConflict {
			t.Fatalf("two processes polled Telegram at once: %s", c.Description)
		}
	}
	if n := len(fake.Calls("sendMessage")); n != 2 {
		t.Fatalf("%d Telegram messages for two questions, want 2 (the end edits)", n)
	}
	created := map[string]string{} // session → webhook-id
	for _, d := range recv.Deliveries() {
		if d.VerifyErr != nil {
			t.Fatalf("a delivery failed verification: %v", d.VerifyErr)
		}
		p, _ := d.Payload()
		data, _ := p["data"].(map[string]any)
		id, _ := data["sessionId"].(string)
		if d.Type == "session.created" {
			if prev, ok := created[id]; ok && prev != d.ID {
				t.Fatalf("session %s created twice under different ids %s and %s", id, prev, d.ID)
			}
			created[id] = d.ID
		}
	}
	if len(created) != 2 || created[s.ID] != first.ID {
		t.Fatalf("created deliveries %v, first id %s", created, first.ID)
	}
}
