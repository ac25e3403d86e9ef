package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file Acquire keeps in the directory.
const FileName = "feedbackd.lock"

// ErrUnsupported is returned by Acquire on systems without flock(2).
var ErrUnsupported = errors.New("directory locks are not supported on this system")

// HeldError is returned by Acquire when another process holds the lock.
type HeldError struct {
	// Dir is the directory, as an absolute path when it could be made one.
	Dir string
	// PID is the process that holds it, as it recorded itself; 0 when the
	// file could not be read (the holder may be writing it right now).
	PID int
}

func (e *HeldError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s (lock file %s): stop it, or give this one another DATA_DIR",
		e.Dir, holder, filepath.Join(e.Dir, FileName))
}

// Lock is a held directory lock. Release it once the directory is no longer
// used; the process ending releases it too.
type Lock struct {
	f    *os.File
	path string
}

// Acquire creates dir if needed and locks it for this process without
// waiting: when another process (or another Acquire in this one) holds it,
// it returns a *HeldError naming the holder's pid.
func Acquire(dir string) (*Lock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !held {
		pid := readPID(f)
		f.Close()
		return nil, &HeldError{Dir: dir, PID: pid}
	}
	// The pid is only what the next process prints; the lock is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Release gives the lock up. The file stays: removing it would let a
// process that opened it just before lock a file no one else can find.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	return nil
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
