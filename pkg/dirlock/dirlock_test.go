package dirlock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/dirlock"
)

// A second Acquire of a held directory is refused with the holder's pid and
// the directory; once released, the directory can be locked again. flock
// locks belong to the open file, so this holds within one process too (the
// test across two processes is cmd/feedbackd's).
func TestASecondAcquireIsRefusedUntilRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by Acquire
	l, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, dirlock.FileName))
	if err != nil || strings.TrimSpace(string(b)) != itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want this pid", b, err)
	}

	_, err = dirlock.Acquire(dir)
	var held *dirlock.HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() || held.Dir != dir {
		t.Fatalf("second Acquire: %v, want HeldError{%s, %d}", err, dir, os.Getpid())
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, itoa(os.Getpid())) {
		t.Fatalf("message %q does not name the directory and the pid", msg)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	t.Cleanup(func() { _ = l2.Release() })
}

// A relative directory is reported as an absolute path, so the message says
// which directory wherever the process was started.
func TestHeldErrorNamesTheAbsoluteDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	l, err := dirlock.Acquire("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release() })
	_, err = dirlock.Acquire("./data/")
	var held *dirlock.HeldError
	if !errors.As(err, &held) || !filepath.IsAbs(held.Dir) || filepath.Base(held.Dir) != "data" {
		t.Fatalf("second Acquire: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
