package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

// These tests run the feedbackd binary as users do, built from this
// package, in a process of its own: what they check (a process that must
// not exit, a file limit, a real signal) cannot be checked in process.
// FEEDBACKD_TEST_BINARY runs them against another build instead (an older
// one, to see what it did).

// testKey is the API key the binary is started with.
const testKey = "binary-test-key-0123456789abcdef0123456789"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds feedbackd once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FEEDBACKD_TEST_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "feedbackd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "feedbackd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running feedbackd process.
type proc struct {
	cmd    *exec.Cmd
	logs   *syncbuf.Buffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
	url    string
	ops    string // METRICS_ADDR's URL, when set
}

// start runs `feedbackd serve` with env (on top of a fresh DATA_DIR, a
// free port on 127.0.0.1, testKey and JSON logs), limited to fileLimit open
// files when it is not 0, and waits until it is ready. The process is
// killed at the end of the test if it is still running.
func start(t *testing.T, fileLimit int, env ...string) *proc {
	t.Helper()
	bin := binary(t)
	args := []string{bin, "serve"}
	if fileLimit > 0 {
		if prlimit, err := exec.LookPath("prlimit"); err == nil {
			args = append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", fileLimit, fileLimit), "--"}, args...)
		} else {
			args = []string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" serve`, fileLimit), bin}
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+t.TempDir(), "LISTEN_ADDR=127.0.0.1:0", "API_KEYS="+testKey,
		"LOG_FORMAT=json", "LOG_LEVEL=info", "RATE_LIMIT_CREATE=off", "NATS_URL=")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, logs: &syncbuf.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.running() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("feedbackd's log:\n%s", tail(p.logs.String(), 40))
		}
	})
	poll.Until(t, 30*time.Second, func() error {
		if !p.running() {
			return fmt.Errorf("feedbackd exited: %v\n%s", p.err, p.logs.String())
		}
		p.url, p.ops = logged(p.logs.String(), "feedbackd is listening"), logged(p.logs.String(), "serving /health, /ready and /metrics")
		if p.url == "" {
			return fmt.Errorf("not listening yet")
		}
		return ready(p.url)
	})
	return p
}

// logged is the url of the first log line whose msg is msg.
func logged(logs, msg string) string {
	for line := range strings.Lines(logs) {
		var rec struct{ Msg, URL string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			return rec.URL
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// client is a short-lived HTTP client: each check opens a fresh connection
// and gives up quickly, as a probe does.
var client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// ready is nil once base answers /ready with 200.
func ready(base string) error {
	res, err := client.Get(base + "/ready")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/ready: %d", res.StatusCode)
	}
	return nil
}

// create makes a session and returns its id, or why it could not.
func create(base string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/feedback/create", strings.NewReader(`{"message":"Still there?","timeout":600}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", testKey)
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var env struct {
		Data struct{ SessionID string } `json:"data"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &env) != nil {
		return "", fmt.Errorf("create: %d %s", res.StatusCode, b)
	}
	return env.Data.SessionID, nil
}

// serves is nil once base answers /health with 200 and creates a session.
func serves(base string) error {
	res, err := client.Get(base + "/health")
	if err != nil {
		return fmt.Errorf("/health: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/health: %d", res.StatusCode)
	}
	_, err = create(base)
	return err
}

// gauge reads one series from base's /metrics; -1 when it cannot.
func gauge(base, series string) float64 {
	res, err := client.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// stop sends SIGTERM and returns how long the process took to exit.
func (p *proc) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("feedbackd did not exit within 20 s of SIGTERM")
	}
	took := time.Since(start)
	if p.err != nil {
		t.Errorf("feedbackd exited with %v after SIGTERM", p.err)
	}
	return took
}
