package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The exit status is what scripts see: help asked for is a success, with
// the help on stdout; a mistake is a failure, explained on stderr.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		status   int
		out, err string
	}{
		{[]string{"token", "--help"}, 0, "usage: feedbackd token", ""},
		{[]string{"token", "-h"}, 0, "--sub", ""},
		{[]string{"apikey", "--help"}, 0, "usage: feedbackd apikey", ""},
		{[]string{"help"}, 0, "feedbackd [serve]", ""},
		{[]string{"serve", "--help"}, 0, "feedbackd expirer", ""},
		{[]string{"version"}, 0, "dev", ""},
		{[]string{"apikey"}, 0, "", ""},
		{[]string{"token", "--bogus"}, 1, "", "bogus"},
		{[]string{"apikey", "extra"}, 1, "", "takes no arguments"},
		{[]string{"launch"}, 1, "", `unknown command "launch"`},
		{[]string{"edge", "now"}, 1, "", "takes no arguments"},
		{[]string{"healthcheck"}, 1, "", "usage: feedbackd healthcheck"},
		{[]string{"ask", "--help"}, 0, "usage: feedbackd ask", ""},
		{[]string{"ask"}, 1, "", "feedbackd ask: what should the person be asked"},
		{[]string{"ask", "Ship it?", "--option", "Yes", "--expect", "No"}, 1, "", "none of the options"},
		{[]string{"watch", "--help"}, 0, "usage: feedbackd watch", ""},
		{[]string{"watch", "now"}, 1, "", "feedbackd watch: takes no arguments"},
		{[]string{"inbox-link", "--help"}, 0, "usage: feedbackd inbox-link", ""},
		{[]string{"inbox-link", "--ttl", "soon"}, 1, "", `--ttl "soon"`},
		{[]string{"inbox-link", "--list", "--revoke", "lnk_x"}, 1, "", "cannot go together"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := run(context.Background(), tc.args, &out, &errOut); got != tc.status {
				t.Fatalf("exit status %d, want %d; stdout %q, stderr %q", got, tc.status, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", out.String(), tc.out, errOut.String(), tc.err)
			}
			if tc.status == 0 && errOut.Len() != 0 {
				t.Fatalf("stderr on success: %q", errOut.String())
			}
		})
	}
}

// A role runs until its context ends, then stops cleanly with status 0.
func TestServeStopsCleanlyWhenTheContextEnds(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("LISTEN_ADDR", "127.0.0.1:0")
	t.Setenv("API_KEYS", "main-test-key-0123456789abcdef0123456789")
	t.Setenv("LOG_LEVEL", "error")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	if got := run(ctx, []string{"serve"}, &out, &errOut); got != 0 {
		t.Fatalf("exit status %d: %s", got, errOut.String())
	}
}
