package clientcmd_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

// The commands run as users run them: the real binary, built once by
// TestMain, in a subprocess, against the real server started in process by
// programtest.

// binary is the feedbackd built for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "feedbackd-clientcmd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "feedbackd")
	build := exec.Command("go", "build", "-o", binary, "github.com/feedbackd/feedbackd/cmd/feedbackd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build feedbackd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running feedbackd command.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	code           int
}

// start runs feedbackd with args against the server m as principal A, in
// an empty directory with an environment of its own.
func start(t *testing.T, m *program.Main, args ...string) *proc {
	t.Helper()
	return startIn(t, t.TempDir(), []string{
		client.EnvURL + "=" + m.URL(),
		client.EnvAPIKey + "=" + programtest.KeyA,
	}, nil, args...)
}

func startIn(t *testing.T, dir string, env []string, stderr io.Writer, args ...string) *proc {
	t.Helper()
	return startProgram(t, binary, dir, env, stderr, args...)
}

// startProgram runs path (feedbackd, or a shell running it).
func startProgram(t *testing.T, path, dir string, env []string, stderr io.Writer, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if f, ok := stderr.(*os.File); ok {
		p.cmd.Stderr = f // a terminal, say: the caller reads it
	} else if stderr != nil {
		p.cmd.Stderr = io.MultiWriter(p.stderr, stderr)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start feedbackd %v: %v", args, err)
	}
	go func() {
		defer close(p.done)
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			p.code = -1
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

var linkLine = regexp.MustCompile(`Answer at: (\S+/feedback/([0-9a-f-]{36}))`)

// link waits for the line that gives the link, and returns it and the
// session id.
func (p *proc) link(t *testing.T) (link, id string) {
	t.Helper()
	programtest.WaitFor(t, 30*time.Second, func() error {
		select {
		case <-p.done:
			return fmt.Errorf("feedbackd exited %d before printing the link: %s", p.code, p.stderr.String())
		default:
		}
		m := linkLine.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return errors.New("no link yet: " + p.stderr.String())
		}
		link, id = m[1], m[2]
		return nil
	})
	return link, id
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exit waits for the process to end and returns its exit status.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("feedbackd still running; stderr: %s", p.stderr.String())
		return 0
	}
}

// expect checks how the process ended.
func (p *proc) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	got := p.exit(t)
	if got != code || p.stdout.String() != stdout || !strings.Contains(p.stderr.String(), stderr) {
		t.Fatalf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr containing %q",
			got, p.stdout.String(), p.stderr.String(), code, stdout, stderr)
	}
}
