package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux the Go toolchain supports.
const clockTicks = 100

// procCPU is the CPU time (user + system) the process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	// The command name may hold spaces and parentheses: fields count from
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procRSS is the resident memory of process pid, in bytes (VmRSS).
func procRSS(pid int) (uint64, error) { return procStatus(pid, "VmRSS") }

// procRSSParts splits the resident memory of process pid into anonymous
// memory (the heap, stacks: what the process allocated) and file-backed
// pages (the mapped executable: shared with the page cache, and dropped by
// the kernel before anything else).
func procRSSParts(pid int) (anon, file uint64, err error) {
	anon, err1 := procStatus(pid, "RssAnon")
	file, err2 := procStatus(pid, "RssFile")
	return anon, file, errors.Join(err1, err2)
}

// procStatus is a "kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %q: %w", field, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// loadAvg is the one-minute load average of the machine.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// child is a server process the tool started: feedbackd serve, or the
// floor. Its CPU and memory are read from /proc.
type child struct {
	name   string
	cmd    *exec.Cmd
	url    string // base URL of its HTTP listener
	opsURL string // base URL of METRICS_ADDR, when set
	// pprofAlt is where a build patched for "before" profiles serves
	// /debug/pprof (BENCH_PPROF_ADDR), when METRICS_ADDR does not.
	pprofAlt string
	dataDir  string // removed by stop; empty for the floor
	key      string // API key, for feedbackd
	exited   chan struct{}
	waitErr  error
	// started is when the process was started; ready when /health first
	// answered 200; serving when the API first answered (feedbackd only:
	// /health turns 200 once the backend is open, a moment before the app
	// takes over the listener).
	started, ready, serving time.Time
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// cpu is the CPU time the child has used.
func (c *child) cpu() (time.Duration, error) { return procCPU(c.pid()) }

// rss is the child's resident memory.
func (c *child) rss() (uint64, error) { return procRSS(c.pid()) }

// serveOptions says how to start feedbackd serve.
type serveOptions struct {
	binary   string
	logLevel string
	profile  bool     // serve /debug/pprof on METRICS_ADDR (and, for builds patched for "before" profiles, on BENCH_PPROF_ADDR)
	env      []string // extra NAME=value, last wins
	logTo    io.Writer
}

// startServe starts `feedbackd serve` on a fresh data directory and a free
// loopback port, and waits until /health answers 200. The data directory
// is removed when the child stops.
func startServe(ctx context.Context, o serveOptions) (*child, error) {
	dir, err := os.MkdirTemp("", "feedbackd-bench-data-")
	if err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var kb [24]byte
	_, _ = rand.Read(kb[:])
	key := "bench-" + hex.EncodeToString(kb[:])
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"DATA_DIR=" + dir,
		"LISTEN_ADDR=" + addr,
		"API_KEYS=" + key,
		// Rate limits are per principal and per address, and a load tool is
		// one of each.
		"RATE_LIMIT_CREATE=off", "RATE_LIMIT_SUBMIT=off", "RATE_LIMIT_PAGE=off",
		"MAX_WAITS_PER_PRINCIPAL=0",
		"NOTIFIER_MAX_PER_SESSION=20000",
		"LOG_LEVEL=" + o.logLevel,
	}
	c := &child{name: "feedbackd", url: "http://" + addr, dataDir: dir, key: key}
	if o.profile {
		ops, err := freeAddr()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		patched, err := freeAddr()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		env = append(env, "METRICS_ADDR="+ops, "DEBUG_PPROF=true", "BENCH_PPROF_ADDR="+patched)
		c.opsURL = "http://" + ops
		c.pprofAlt = "http://" + patched
	}
	env = append(env, o.env...)
	cmd := exec.Command(o.binary, "serve")
	cmd.Env = env
	// The working directory is the data directory: no .env file of the
	// caller's is read.
	cmd.Dir = dir
	cmd.Stdout = o.logTo
	cmd.Stderr = o.logTo
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.cmd = cmd
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.waitHealthy(ctx, 60*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	if err := c.waitServing(ctx, 60*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitServing polls an authenticated API route every millisecond until it
// answers 200, and notes when it did.
func (c *child) waitServing(ctx context.Context, limit time.Duration) (err error) {
	c.serving, err = c.poll(ctx, limit, "serving", func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.url+"/api/feedback?limit=1", nil)
		req.Header.Set("X-API-Key", c.key)
		return healthClient.Do(req)
	})
	return err
}

// startFloor starts the floor server (this binary, `feedbackd-bench floor`)
// as a child process, so that its CPU time is its own.
func startFloor(ctx context.Context) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "floor", "--listen", addr)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{name: "floor", cmd: cmd, url: "http://" + addr}
	if err := c.start(); err != nil {
		return nil, err
	}
	if err := c.waitHealthy(ctx, 10*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) start() error {
	c.exited = make(chan struct{})
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	return nil
}

// healthClient asks /health without keeping connections: a starting server
// hands its socket over to the app.
var healthClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// waitHealthy polls /health every millisecond until it answers 200, and
// notes when it did.
func (c *child) waitHealthy(ctx context.Context, limit time.Duration) (err error) {
	c.ready, err = c.poll(ctx, limit, "healthy", func() (*http.Response, error) {
		return healthClient.Get(c.url + "/health")
	})
	return err
}

// poll sends get every millisecond until it answers 200, c exits, ctx ends
// or limit passes, and returns when it answered.
func (c *child) poll(ctx context.Context, limit time.Duration, what string, get func() (*http.Response, error)) (time.Time, error) {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return time.Time{}, fmt.Errorf("%s exited before it was %s: %v", c.name, what, c.waitErr)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		default:
		}
		res, err := get()
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
			err = fmt.Errorf("%s: HTTP %d", res.Request.URL.Path, res.StatusCode)
		}
		last = err
		time.Sleep(time.Millisecond) // the polling interval, the resolution of the time measured
	}
	return time.Time{}, fmt.Errorf("%s not %s within %s: %v", c.name, what, limit, last)
}

// stop ends the child (SIGTERM, then SIGKILL after 15 s) and removes its
// data directory.
func (c *child) stop() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if c.dataDir != "" {
		_ = os.RemoveAll(filepath.Clean(c.dataDir))
	}
}
