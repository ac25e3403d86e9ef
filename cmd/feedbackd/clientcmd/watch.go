package clientcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// watchUsage is `feedbackd watch --help`.
const watchUsage = `usage: feedbackd watch [flags]

Follows your sessions live (the /ws stream of ` + "`" + `feedbackd serve` + "`" + ` or a notifier), one
line per event on stdout:

  15:04:05  session_created         6f0c9a52  pending    Deploy v2 to prod?
  15:06:41  session_status_changed  6f0c9a52  completed  Deploy v2 to prod?
  15:06:41  feedback_submitted      6f0c9a52  completed  Yes

It reconnects by itself (with backoff, to any notifier) and resumes where it
stopped, so no event is missed or printed twice; notes about the connection go
to stderr. Ctrl+C ends it.

Flags:
  --json             print each message as the server sent it, one JSON object a line
  --since REVISION   first replay what changed after REVISION (0: every session still stored)
  --url URL          the server (default $FEEDBACKD_URL, else ` + client.DefaultURL + `)
  --notifier-url URL where the WebSocket is, if not at --url
  --api-key-file FILE  the API key, from a file

` + credentialsHelp + `
`

// Watch runs feedbackd watch with args until SIGINT or SIGTERM (then it
// returns nil) or a refusal that reconnecting cannot cure.
func Watch(env Env, args []string) error {
	var cf connectFlags
	var asJSON bool
	var since, notifier string
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&notifier, "notifier-url", "", "")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, watchUsage)
		return flag.ErrHelp
	}
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("takes no arguments, got %q", pos)
	}
	if err != nil {
		return usageError("watch", err)
	}
	var opts []client.StreamOption
	if since != "" {
		rev, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return usageError("watch", fmt.Errorf("--since %q: want a revision number", since))
		}
		opts = append(opts, client.FromRevision(rev))
	}
	var extra []client.Option
	if notifier != "" {
		extra = append(extra, client.WithNotifierURL(notifier))
	}
	c, err := cf.client(env, extra...)
	if err != nil {
		return exitf(ExitFailed, "watch: "+err.Error())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := &watcher{env: env, c: c, json: asJSON, titles: map[string]string{}}
	opts = append(opts, client.OnDisconnect(func(err error, retryIn time.Duration) {
		fmt.Fprintf(env.Stderr, "feedbackd watch: connection lost (%v); reconnecting in %s\n", err, retryIn.Round(100*time.Millisecond))
	}))
	for ev, err := range c.Watch(ctx, opts...) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return exitf(ExitFailed, "watch: "+describe(err))
		}
		w.print(ev, c.BaseURL())
	}
	return nil
}

// watcher prints events.
type watcher struct {
	env       Env
	c         *client.Client
	json      bool
	connected bool
	// titles remembers what each session asked, from its session_created,
	// for the lines of its later events.
	titles map[string]string
}

func (w *watcher) print(ev client.Event, server string) {
	if ev.Type == client.EventConnected {
		if !w.connected {
			fmt.Fprintf(w.env.Stderr, "feedbackd watch: following your sessions at %s (revision %d)\n", server, ev.Revision)
		} else {
			fmt.Fprintf(w.env.Stderr, "feedbackd watch: reconnected (revision %d)\n", ev.Revision)
		}
		w.connected = true
		return
	}
	if w.json {
		w.env.Stdout.Write(append(compact(ev.Raw), '\n'))
		return
	}
	text := firstNonEmpty(ev.Title, oneLine(ev.Message))
	if text != "" {
		w.titles[ev.SessionID] = text
	} else if text = w.titles[ev.SessionID]; text == "" && ev.SessionID != "" {
		// A session first heard of after its creation (a replay, or the
		// feed skipping a superseded version): ask what it was about.
		text = w.lookUp(ev.SessionID)
		w.titles[ev.SessionID] = text
	}
	switch ev.Type {
	case client.EventSubmitted:
		text = oneLine(ev.Preview)
	case client.EventExpired:
		text = firstNonEmpty(text, "timed out")
	}
	if ev.Status.Final() && ev.Type != client.EventStatusChanged {
		delete(w.titles, ev.SessionID)
	} else if ev.Type == client.EventStatusChanged && ev.Status == client.StatusCancelled {
		delete(w.titles, ev.SessionID)
	}
	at := ev.At
	if at.IsZero() {
		at = ev.Sent
	}
	if at.IsZero() {
		at = time.Now()
	}
	id := ev.SessionID
	if len(id) > 8 {
		id = id[:8]
	}
	line := fmt.Sprintf("%s  %-22s  %-8s  %-9s  %s", at.Local().Format("15:04:05"), ev.Type, id, ev.Status, text)
	fmt.Fprintln(w.env.Stdout, strings.TrimRight(line, " "))
}

// lookUp reads what a session asks, briefly: a line without it is better
// than a late line.
func (w *watcher) lookUp(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := w.c.Status(ctx, id)
	if err != nil {
		return ""
	}
	return oneLine(st.Heading())
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// oneLine folds text onto one line and shortens it for a terminal.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}
