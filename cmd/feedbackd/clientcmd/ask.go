package clientcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// askUsage is `feedbackd ask --help`.
const askUsage = `usage: feedbackd ask [flags] QUESTION

Asks a person QUESTION (Markdown), prints the link to answer at on stderr (and a
QR code of it when stderr is a terminal), waits for the answer and prints it on
stdout: the answer as text, or with --json the result object. Needs a running
feedbackd ($FEEDBACKD_URL, default ` + client.DefaultURL + `).

  feedbackd ask "Ship it?" --option Yes --option No --expect Yes && make deploy

Flags:
  --option TEXT        a choice (repeatable); the person may pick several
  --single             the person picks one option at most (radio buttons)
  ` + fieldHelp + `
  --approval ACTION    ask to approve or deny ACTION ("Drop table users");
                       QUESTION is then optional
  --details JSON       what an approval is about, shown to the person
  --title TEXT         a one-line heading
  --image FILE         show an image with the question (repeatable; PNG, JPEG,
                       WebP or GIF)
  --metadata JSON      a JSON object kept with the session
  --timeout DURATION   how long the question stays open: 10m, 1h, or seconds
                       (default: the server's, 5m unless configured)
  --expect ANSWER      exit 0 only if the person chose the option ANSWER (for an
                       approval: approve or deny); else exit 4
  --json               print the result object (or, unanswered, the status) as JSON
  --url URL            the server (default $FEEDBACKD_URL)
  --api-key-file FILE  the API key, from a file

` + credentialsHelp + `

Exit status:
  0    answered (with --expect: as expected)
  1    an error: bad flags, a refused question, no server
  2    expired: nobody answered in time
  3    cancelled: the question was withdrawn elsewhere
  4    answered, but not as --expect said
  130  interrupted (Ctrl+C), 143 terminated (SIGTERM): the question is cancelled first

Quiet unless stderr is a terminal: then a QR code of the link and a live countdown.
`

// askFlags are the flags of feedbackd ask.
type askFlags struct {
	connectFlags
	options  repeated
	fields   repeated
	images   repeated
	single   bool
	approval string
	details  string
	title    string
	metadata string
	timeout  string
	expect   string
	json     bool
}

// Ask runs feedbackd ask with args. It returns nil for exit status 0, an
// *ExitError for the others, and flag.ErrHelp after printing the usage.
// SIGINT and SIGTERM cancel the question before it returns.
func Ask(env Env, args []string) error {
	var f askFlags
	fs := flag.NewFlagSet("ask", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f.register(fs)
	fs.Var(&f.options, "option", "")
	fs.Var(&f.fields, "field", "")
	fs.Var(&f.images, "image", "")
	fs.BoolVar(&f.single, "single", false, "")
	fs.StringVar(&f.approval, "approval", "", "")
	fs.StringVar(&f.details, "details", "", "")
	fs.StringVar(&f.title, "title", "", "")
	fs.StringVar(&f.metadata, "metadata", "", "")
	fs.StringVar(&f.timeout, "timeout", "", "")
	fs.StringVar(&f.expect, "expect", "", "")
	fs.BoolVar(&f.json, "json", false, "")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, askUsage)
		return flag.ErrHelp
	}
	if err != nil {
		return usageError("ask", err)
	}
	q, err := f.question(pos)
	if err != nil {
		return usageError("ask", err)
	}
	c, err := f.client(env)
	if err != nil {
		return exitf(ExitFailed, "ask: "+err.Error())
	}

	// Signals are watched from before the create: Ctrl+C at any moment
	// withdraws the question once it exists.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	a := &asker{env: env, f: &f, c: c, sigs: sigs, tty: isTerminal(env.Stderr)}
	return a.run(q)
}

// question builds the question the flags describe, refusing what cannot
// work before anything is sent.
func (f *askFlags) question(pos []string) (client.Question, error) {
	var q client.Question
	switch len(pos) {
	case 0:
		if f.approval == "" {
			return q, errors.New("what should the person be asked? Give the question as an argument")
		}
	case 1:
		q.Message = pos[0]
	default:
		return q, fmt.Errorf("give the question as one argument (quote it), got %d: %q", len(pos), pos)
	}
	q.Title, q.Options, q.SingleChoice = f.title, f.options, f.single
	if f.approval != "" {
		if len(f.options) > 0 || len(f.fields) > 0 || f.single {
			return q, errors.New("--approval takes no --option, --field or --single: the answer is approve or deny")
		}
		q.Kind, q.Action = client.KindApproval, f.approval
	} else if f.details != "" {
		return q, errors.New("--details goes with --approval")
	}
	if f.details != "" {
		if !json.Valid([]byte(f.details)) {
			return q, errors.New("--details must be JSON")
		}
		q.Details = json.RawMessage(f.details)
	}
	if f.metadata != "" {
		if !json.Valid([]byte(f.metadata)) {
			return q, errors.New("--metadata must be a JSON object")
		}
		q.Metadata = json.RawMessage(f.metadata)
	}
	if len(f.fields) > 0 {
		form := &client.Form{}
		for _, spec := range f.fields {
			fl, err := parseField(spec)
			if err != nil {
				return q, err
			}
			form.Fields = append(form.Fields, fl)
		}
		q.Fields = form
	}
	if f.timeout != "" {
		d, err := parseTimeout(f.timeout)
		if err != nil {
			return q, err
		}
		q.Timeout = d
	}
	for _, path := range f.images {
		img, err := readImage(path)
		if err != nil {
			return q, err
		}
		q.Images = append(q.Images, img)
	}
	if f.expect != "" {
		switch {
		case f.approval != "":
			if !strings.EqualFold(f.expect, "approve") && !strings.EqualFold(f.expect, "deny") {
				return q, fmt.Errorf("--expect %q: an approval is answered approve or deny", f.expect)
			}
		case len(f.options) == 0:
			return q, errors.New("--expect needs --option (or --approval): it names the answer that exits 0")
		case !contains(f.options, f.expect):
			return q, fmt.Errorf("--expect %q is none of the options %q", f.expect, []string(f.options))
		}
	}
	return q, nil
}

// parseTimeout reads a Go duration (10m, 1h30m) or whole seconds (600).
func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("--timeout %q: want a duration in whole seconds such as 90s, 10m or 1h, or a number of seconds", s)
	}
	return d, nil
}

// maxImageFile bounds an image read from disk; the server's own limit (5
// MiB by default) is what counts.
const maxImageFile = 32 << 20

func readImage(path string) (client.Image, error) {
	st, err := os.Stat(path)
	if err != nil {
		return client.Image{}, fmt.Errorf("--image: %w", err)
	}
	if st.Size() > maxImageFile {
		return client.Image{}, fmt.Errorf("--image %s: %d bytes is too large", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return client.Image{}, fmt.Errorf("--image: %w", err)
	}
	img := client.Image{Data: b, Name: filepath.Base(path)}
	// The server identifies the type from the bytes anyway; say it when it
	// is one the server takes, and let the server refuse anything else.
	switch t := http.DetectContentType(b); t {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		img.MimeType = t
	}
	return img, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// asker is one run of feedbackd ask.
type asker struct {
	env  Env
	f    *askFlags
	c    *client.Client
	sigs chan os.Signal
	tty  bool
}

// createTimeout bounds the create; a signal meanwhile is acted on after it.
const createTimeout = 30 * time.Second

func (a *asker) run(q client.Question) error {
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	created, err := a.c.Create(ctx, q)
	cancel()
	if err != nil {
		return exitf(ExitFailed, "ask: "+describe(err))
	}
	fmt.Fprintf(a.env.Stderr, "Answer at: %s\n", created.FeedbackURL)
	var cd *countdown
	if a.tty {
		fmt.Fprintln(a.env.Stderr)
		if err := writeQR(a.env.Stderr, created.FeedbackURL); err == nil {
			fmt.Fprintln(a.env.Stderr)
		}
		cd = startCountdown(a.env.Stderr, created.ExpiresAt)
	}

	// Wait until the answer, the end of the session, or a signal.
	waitCtx, stopWait := context.WithCancelCause(context.Background())
	defer stopWait(nil)
	gotSig := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-a.sigs:
			gotSig <- s
			stopWait(errSignal)
		case <-waitCtx.Done():
		}
	}()
	res, err := a.c.Wait(waitCtx, created.SessionID)
	cd.Stop()
	if errors.Is(err, errSignal) {
		res, err = a.interrupted(created.SessionID, <-gotSig)
		if err != nil {
			return err
		}
	}
	return a.finish(created.SessionID, res, err)
}

var errSignal = errors.New("interrupted by a signal")

// interrupted cancels the question after SIGINT or SIGTERM. If the person
// answered first, the answer stands and is reported as usual.
func (a *asker) interrupted(id string, sig os.Signal) (*client.Result, error) {
	code, name := ExitInterrupted, "interrupted"
	if sig == syscall.SIGTERM {
		code, name = ExitTerminated, "terminated"
	}
	// A second signal gives up on the cancel at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-a.sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := a.c.Cancel(ctx, id)
	switch {
	case err == nil:
		return nil, exitf(code, fmt.Sprintf("ask: %s: the question was cancelled", name))
	case errors.Is(err, client.ErrAlreadySubmitted):
		res, rerr := a.c.Result(ctx, id)
		return res, rerr
	case errors.Is(err, client.ErrExpired), errors.Is(err, client.ErrCancelled):
		return nil, exitf(code, fmt.Sprintf("ask: %s: the question had already ended: %s", name, describe(err)))
	}
	return nil, exitf(code, fmt.Sprintf("ask: %s, and the question could not be cancelled: %s", name, describe(err)))
}

// finish reports the outcome on stdout and stderr and picks the exit status.
func (a *asker) finish(id string, res *client.Result, err error) error {
	switch {
	case errors.Is(err, client.ErrExpired):
		a.printStatus(id)
		return exitf(ExitExpired, "ask: nobody answered in time: the question expired")
	case errors.Is(err, client.ErrCancelled):
		a.printStatus(id)
		return exitf(ExitCancelled, "ask: the question was cancelled")
	case err != nil:
		return exitf(ExitFailed, "ask: "+describe(err))
	}
	if a.f.json {
		a.env.Stdout.Write(append(compact(res.Raw), '\n'))
	} else {
		fmt.Fprintln(a.env.Stdout, res.Feedback.CombinedFeedback)
	}
	if a.f.expect == "" {
		return nil
	}
	if a.f.approval != "" {
		got := decisionOf(&res.Feedback)
		if strings.EqualFold(string(got), a.f.expect) {
			return nil
		}
		return exitf(ExitUnexpected, fmt.Sprintf("ask: the decision was %q, not %q", got, strings.ToLower(a.f.expect)))
	}
	if res.Feedback.Chose(a.f.expect) {
		return nil
	}
	return exitf(ExitUnexpected, fmt.Sprintf("ask: the answer was %q, not %q", answerSummary(&res.Feedback), a.f.expect))
}

// decisionOf is the approval's decision. A server that does not report the
// decision itself still writes it first in combinedFeedback.
func decisionOf(f *client.Feedback) client.Decision {
	switch {
	case f.Decision != "":
		return f.Decision
	case strings.HasPrefix(f.CombinedFeedback, "Approved"):
		return client.DecisionApprove
	case strings.HasPrefix(f.CombinedFeedback, "Denied"):
		return client.DecisionDeny
	}
	return ""
}

func answerSummary(f *client.Feedback) string {
	if len(f.SelectedOptions) > 0 {
		return strings.Join(f.SelectedOptions, ", ")
	}
	return strings.TrimSpace(f.FreeText)
}

// printStatus prints, with --json, the status of a session that ended
// unanswered, so that a script parsing stdout still gets an object.
func (a *asker) printStatus(id string) {
	if !a.f.json {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := a.c.Status(ctx, id); err == nil && len(st.Raw) > 0 {
		a.env.Stdout.Write(append(compact(st.Raw), '\n'))
	}
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

// describe is an error for a person: the server's message and the field at
// fault, without the Go wrapping.
func describe(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		msg := ae.Message
		if msg == "" {
			msg = string(ae.Code)
		}
		if ae.RetryAfter > 0 {
			msg += fmt.Sprintf(" (retry in %s)", ae.RetryAfter)
		}
		return fmt.Sprintf("%s (%s, HTTP %d)", msg, ae.Code, ae.Status)
	}
	return err.Error()
}
