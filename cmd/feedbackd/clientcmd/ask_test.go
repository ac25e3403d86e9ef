package clientcmd_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

// server is feedbackd serve whose sessions may last a second.
func server(t *testing.T) (*program.Main, *client.Client) {
	t.Helper()
	m := programtest.MustRunMain(t, programtest.ShortTimeouts())
	c, err := client.New(client.WithBaseURL(m.URL()), client.WithAPIKey(programtest.KeyA))
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func submit(t *testing.T, c *client.Client, id string, a client.Answer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Submit(ctx, id, a); err != nil {
		t.Fatalf("answer: %v", err)
	}
}

func status(t *testing.T, c *client.Client, id string) client.Status {
	t.Helper()
	st, err := c.Status(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st.Status
}

func TestAskAnsweredThroughREST(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	p := start(t, m, "ask", "Deploy v2 to prod?", "--option", "Yes", "--option", "No", "--title", "Release", "--timeout", "10m")
	link, id := p.link(t)
	if link != m.URL()+"/feedback/"+id {
		t.Fatalf("link %q", link)
	}
	st, err := c.Status(t.Context(), id)
	if err != nil || st.Status != client.StatusPending || time.Until(st.ExpiresAt) < 9*time.Minute {
		t.Fatalf("the question: %+v %v", st, err)
	}
	submit(t, c, id, client.Answer{SelectedOptions: []string{"Yes", "No"}, FreeText: "Both?"})
	p.expect(t, 0, "Yes\nNo\n\nBoth?\n", "")
	// Not a terminal: the link and nothing else.
	if got := p.stderr.String(); got != "Answer at: "+link+"\n" {
		t.Fatalf("stderr %q: progress output on a non-terminal", got)
	}
}

func TestAskJSONIsTheResultObject(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	p := start(t, m, "ask", "Which region?", "--option", "eu", "--option", "us", "--single", "--json", "--metadata", `{"job":42}`)
	_, id := p.link(t)
	submit(t, c, id, client.Answer{SelectedOptions: []string{"us"}, Metadata: map[string]string{"via": "test"}})
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	var res client.Result
	if err := json.Unmarshal([]byte(p.stdout.String()), &res); err != nil {
		t.Fatalf("stdout is not the result JSON: %v\n%s", err, p.stdout.String())
	}
	if res.SessionID != id || !res.Feedback.Chose("us") || res.Feedback.CombinedFeedback != "us" || res.SubmittedAt.IsZero() || string(res.Metadata) != `{"via":"test"}` {
		t.Fatalf("result %+v", res)
	}
	if strings.Count(p.stdout.String(), "\n") != 1 {
		t.Fatalf("stdout is not one line: %q", p.stdout.String())
	}
}

func TestAskExpect(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	for _, tc := range []struct {
		name   string
		args   []string
		answer client.Answer
		code   int
		stdout string
		stderr string
	}{
		{"as expected", []string{"Ship it?", "--option", "Yes", "--option", "No", "--expect", "Yes"},
			client.Answer{SelectedOptions: []string{"Yes"}}, 0, "Yes\n", ""},
		{"mismatch", []string{"Ship it?", "--option", "Yes", "--option", "No", "--expect", "Yes"},
			client.Answer{SelectedOptions: []string{"No"}, FreeText: "not today"}, 4, "No\n\nnot today\n", `the answer was "No", not "Yes"`},
		{"free text only", []string{"Ship it?", "--option", "Yes", "--expect", "Yes"},
			client.Answer{FreeText: "maybe"}, 4, "maybe\n", `the answer was "maybe", not "Yes"`},
		{"approved", []string{"--approval", "Drop table users_old", "--details", `{"rows":1200}`, "--expect", "approve"},
			client.Answer{Decision: client.DecisionApprove}, 0, "Approved.\n", ""},
		{"denied", []string{"--approval", "Drop table users_old", "--expect", "approve"},
			client.Answer{Decision: client.DecisionDeny, Reason: "keep it"}, 4, "Denied: keep it\n", `the decision was "deny", not "approve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, m, append([]string{"ask"}, tc.args...)...)
			_, id := p.link(t)
			submit(t, c, id, tc.answer)
			p.expect(t, tc.code, tc.stdout, tc.stderr)
		})
	}
}

func TestAskForm(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	p := start(t, m, "ask", "Schedule the migration",
		"--field", "day:date:Day", "--field", "replicas:integer:Replicas", "--field", "env:enum=staging|prod:Environment",
		"--field", "notify?:boolean:Notify the team", "--field", "contact?:email")
	_, id := p.link(t)
	st, err := c.Status(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Fields != nil && len(st.Fields.Fields) != 5 {
		t.Fatalf("the form has %d fields", len(st.Fields.Fields))
	}
	ctx := t.Context()
	if _, err := c.Submit(ctx, id, client.Answer{Values: map[string]any{"day": "2026-12-01", "replicas": 3}}); err == nil {
		t.Fatal("an answer without the required env was accepted: the fields are not required")
	}
	submit(t, c, id, client.Answer{Values: map[string]any{"day": "2026-12-01", "replicas": 3, "env": "prod", "notify": true}})
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	for _, want := range []string{"Day: 2026-12-01", "Replicas: 3", "Environment: prod", "Notify the team: "} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("stdout %q lacks %q", p.stdout.String(), want)
		}
	}
}

func TestAskEndsWithTheSession(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		p := start(t, m, "ask", "Quick!", "--option", "Yes", "--expect", "Yes", "--timeout", "1")
		_, id := p.link(t)
		p.expect(t, 2, "", "nobody answered in time")
		if s := status(t, c, id); s != client.StatusExpired {
			t.Fatalf("status %s", s)
		}
	})
	t.Run("expired --json", func(t *testing.T) {
		t.Parallel()
		p := start(t, m, "ask", "Quick!", "--timeout", "1s", "--json")
		_, id := p.link(t)
		if code := p.exit(t); code != 2 {
			t.Fatalf("exit %d", code)
		}
		var st client.Session
		if err := json.Unmarshal([]byte(p.stdout.String()), &st); err != nil || st.ID != id || st.Status != client.StatusExpired {
			t.Fatalf("stdout %q: %+v %v", p.stdout.String(), st, err)
		}
	})
	t.Run("cancelled elsewhere", func(t *testing.T) {
		t.Parallel()
		p := start(t, m, "ask", "Withdrawn?")
		_, id := p.link(t)
		if err := c.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		p.expect(t, 3, "", "the question was cancelled")
	})
}

// Ctrl+C and SIGTERM withdraw the question before ask exits.
func TestAskSignalCancelsTheQuestion(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			p := start(t, m, "ask", "Interrupt me", "--option", "Yes", "--expect", "Yes")
			_, id := p.link(t)
			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			p.expect(t, tc.code, "", "the question was cancelled")
			if s := status(t, c, id); s != client.StatusCancelled {
				t.Fatalf("status %s after %s", s, tc.sig)
			}
		})
	}
	// Answered before the signal lands: the answer stands.
	p := start(t, m, "ask", "Race me", "--option", "Yes", "--expect", "Yes")
	_, id := p.link(t)
	submit(t, c, id, client.Answer{SelectedOptions: []string{"Yes"}})
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.exit(t); code != 0 && code != 130 {
		t.Fatalf("exit %d", code)
	}
	if s := status(t, c, id); s != client.StatusCompleted {
		t.Fatalf("status %s: the answer was lost", s)
	}
}

func TestAskFailures(t *testing.T) {
	t.Parallel()
	m, _ := server(t)
	// A wrong key: refused, nothing asked.
	p := startIn(t, t.TempDir(), []string{client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=wrong-key-0123456789-0123456789"}, nil,
		"ask", "Ship it?")
	p.expect(t, 1, "", "UNAUTHORIZED, HTTP 401")
	// A question the server refuses names the field.
	p = start(t, m, "ask", strings.Repeat("?", 1001))
	p.expect(t, 1, "", "(INVALID_REQUEST, HTTP 400)")
	if !strings.Contains(p.stderr.String(), "message") {
		t.Fatalf("the refusal does not name the field: %s", p.stderr.String())
	}
	// No server.
	p = startIn(t, t.TempDir(), []string{client.EnvURL + "=http://127.0.0.1:9", client.EnvAPIKey + "=k"}, nil, "ask", "Anyone?")
	p.expect(t, 1, "", "connection refused")
}

// The README's line works as written: a Makefile's deploy runs only after a
// yes.
func TestTheREADMELineWorksAsWritten(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	m, c := server(t)
	const line = `feedbackd ask "Ship it?" --option Yes --option No --expect Yes && make deploy`
	for _, tc := range []struct {
		answer   string
		deployed bool
	}{{"Yes", true}, {"No", false}} {
		t.Run(tc.answer, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("deploy:\n\t@echo deploying\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// As a user has it: feedbackd on the PATH, the environment set.
			env := []string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=" + programtest.KeyA}
			p := startShell(t, dir, env, line)
			_, id := p.link(t)
			submit(t, c, id, client.Answer{SelectedOptions: []string{tc.answer}})
			code := p.exit(t)
			if deployed := strings.Contains(p.stdout.String(), "deploying"); deployed != tc.deployed || (code == 0) != tc.deployed {
				t.Fatalf("answered %s: exit %d, stdout %q", tc.answer, code, p.stdout.String())
			}
		})
	}
}

// startShell runs a shell line with bash.
func startShell(t *testing.T, dir string, env []string, line string) *proc {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	return startProgram(t, bash, dir, env, nil, "-c", line)
}

// --image sends the file's bytes with the question; the owner reads them
// back byte for byte.
func TestAskWithAnImage(t *testing.T) {
	t.Parallel()
	m, c := server(t)
	pic := filepath.Join(t.TempDir(), "screenshot.png")
	// A 1×1 PNG.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
	if err := os.WriteFile(pic, png, 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, m, "ask", "Does this look right?", "--image", pic, "--option", "Yes")
	programtest.WaitFor(t, 30*time.Second, programtest.Until("the link, or an exit", func() bool {
		return strings.Contains(p.stderr.String(), "Answer at:") || p.exited()
	}))
	if p.exited() && strings.Contains(p.stderr.String(), "does not accept images") {
		t.Skipf("this server keeps no images yet: %s", p.stderr.String())
	}
	_, id := p.link(t)
	st, err := c.Status(t.Context(), id)
	if err != nil || len(st.Images) != 1 || st.Images[0].Name != "screenshot.png" {
		t.Fatalf("status %+v %v", st, err)
	}
	img, err := c.Image(t.Context(), id, st.Images[0].ID)
	if err != nil || string(img.Data) != string(png) || img.MimeType != "image/png" {
		t.Fatalf("image %+v %v", img, err)
	}
	submit(t, c, id, client.Answer{SelectedOptions: []string{"Yes"}})
	p.expect(t, 0, "Yes\n", "")
}
