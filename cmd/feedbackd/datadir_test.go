package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

// runAsMain makes the test binary run feedbackd itself when a test starts
// it again with this variable set: the processes of the tests below are the
// real program, without a separate build.
const runAsMain = "FEEDBACKD_TEST_RUN_MAIN"

// TestMain runs the program itself when asked to (see runAsMain), and
// removes the binary built for the run (binary_test.go) when done.
func TestMain(m *testing.M) {
	if os.Getenv(runAsMain) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// process is feedbackd running as a child process of the test.
type process struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	err  error
}

// startProcess runs `feedbackd serve` on dataDir in a process of its own; the
// test kills it at the end if it still runs.
func startProcess(t *testing.T, dataDir string) *process {
	t.Helper()
	p := &process{out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "serve")
	p.cmd.Env = []string{
		runAsMain + "=1",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"DATA_DIR=" + dataDir,
		"LISTEN_ADDR=127.0.0.1:0",
		"API_KEYS=datadir-test-key-0123456789abcdef0123",
		"LOG_LEVEL=info",
	}
	p.cmd.Dir = t.TempDir() // no .env from the repository
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// serving waits until the process says it is ready.
func (p *process) serving(t *testing.T) {
	t.Helper()
	poll.Until(t, 60*time.Second, func() error {
		select {
		case <-p.done:
			t.Fatalf("feedbackd exited: %v\n%s", p.err, p.out)
		default:
		}
		if !strings.Contains(p.out.String(), "msg=ready") {
			return errors.New("not ready yet")
		}
		return nil
	})
}

// exited waits for the process to end and returns its exit status.
func (p *process) exited(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("feedbackd still runs:\n%s", p.out)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// Two servers on one DATA_DIR corrupt its NATS store (issue 12: a session
// created through one was gone, and NATS logged "could not locate msg block
// 1"). The second refuses to start, naming the directory and the pid that
// holds it; once the first ends — by SIGTERM or by SIGKILL, which leaves the
// lock file behind — the directory is free again.
func TestASecondServerOnTheSameDataDirRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	first := startProcess(t, dir)
	first.serving(t)

	second := startProcess(t, dir)
	if code := second.exited(t); code != 1 {
		t.Fatalf("second server exited %d, want 1:\n%s", code, second.out)
	}
	msg := second.out.String()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "process "+strconv.Itoa(first.cmd.Process.Pid)) {
		t.Fatalf("refusal does not name %s and pid %d:\n%s", dir, first.cmd.Process.Pid, msg)
	}
	if strings.Contains(msg, "msg=ready") {
		t.Fatalf("second server got as far as serving:\n%s", msg)
	}

	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.exited(t); code != 0 {
		t.Fatalf("first server exited %d:\n%s", code, first.out)
	}
	third := startProcess(t, dir)
	third.serving(t)

	// A killed holder leaves its lock file, but not its lock.
	if err := third.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	third.exited(t)
	startProcess(t, dir).serving(t)
}
