// Command feedbackd lets AI agents ask people questions and get the answers
// back. See README.md; the roles are described in docs/architecture.md, the
// API and its configuration in docs/api.md. The program itself is package
// program; this file parses, runs, waits for a signal and closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs feedbackd with args until it is done or gets SIGINT or SIGTERM,
// and returns the exit status: 0 for success (and for help asked for), the
// command's own status when it has one, 1 otherwise.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := program.NewMain()
	m.Stdout, m.Stderr, m.Version = stdout, stderr, version
	if err := m.ParseFlags(ctx, args); err != nil {
		return exitStatus(stderr, err)
	}
	if err := m.Run(ctx); err != nil {
		return exitStatus(stderr, err)
	}
	select {
	case <-ctx.Done():
	case <-m.Done():
	}
	return exitStatus(stderr, m.Close())
}

// exitStatus prints err and returns the status it calls for: its own when
// it has one (feedbackd ask exits 2 on expiry, and so on), else 1.
func exitStatus(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "feedbackd", msg)
		}
		return coded.ExitCode()
	}
	fmt.Fprintln(stderr, "feedbackd:", err)
	return 1
}
