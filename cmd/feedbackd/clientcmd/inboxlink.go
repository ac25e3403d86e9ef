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
	"text/tabwriter"
	"time"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// inboxLinkUsage is `feedbackd inbox-link --help`.
const inboxLinkUsage = `usage: feedbackd inbox-link [--name NAME] [--ttl DURATION]
       feedbackd inbox-link --list
       feedbackd inbox-link --revoke ID

Mints an inbox link for your principal (the key or token below) and prints it
on stdout: whoever opens it sees and answers every question of yours in a
browser, can install the inbox on a phone and turn on notifications. The link
holds its credential in the part after #, which browsers never send to a
server; treat the link as a password. On a terminal, a QR code of it goes to
stderr, for a phone's camera. The link is shown this once: list and revoke
links with --list and --revoke, or in the inbox's settings. Revoking a link
signs out every browser that used it, at once.

It asks the server (FEEDBACKD_URL), which builds the link from its PUBLIC_URL.

Flags:
  --name NAME        a name to tell links apart ("phone", "Ana's laptop")
  --ttl DURATION     how long the link works: 30d, 12h, 90m (default: the
                     server's INBOX_LINK_TTL, 30 days)
  --list             list your live links instead (id, name, expiry, last use)
  --revoke ID        revoke the link ID instead
  --url URL          the server (default $FEEDBACKD_URL, else ` + client.DefaultURL + `)
  --api-key-file FILE  the API key, from a file

` + credentialsHelp + `
`

// InboxLink runs feedbackd inbox-link with args.
func InboxLink(env Env, args []string) error {
	var cf connectFlags
	var name, ttlText, revoke string
	var list bool
	fs := flag.NewFlagSet("inbox-link", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cf.register(fs)
	fs.StringVar(&name, "name", "", "")
	fs.StringVar(&ttlText, "ttl", "", "")
	fs.BoolVar(&list, "list", false, "")
	fs.StringVar(&revoke, "revoke", "", "")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, inboxLinkUsage)
		return flag.ErrHelp
	}
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("takes no arguments, got %q", pos)
	}
	if err == nil && list && revoke != "" {
		err = errors.New("--list and --revoke cannot go together")
	}
	if err == nil && (list || revoke != "") && (name != "" || ttlText != "") {
		err = errors.New("--name and --ttl are for minting a link, not with --list or --revoke")
	}
	var ttl time.Duration
	if err == nil && ttlText != "" {
		ttl, err = parseLife(ttlText)
	}
	if err != nil {
		return usageError("inbox-link", err)
	}
	c, err := cf.client(env)
	if err != nil {
		return exitf(ExitFailed, "inbox-link: "+err.Error())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	switch {
	case list:
		links, err := c.InboxLinks(ctx)
		if err != nil {
			return exitf(ExitFailed, "inbox-link: "+describe(err))
		}
		printLinks(env.Stdout, links)
		return nil
	case revoke != "":
		if err := c.RevokeInboxLink(ctx, revoke); err != nil {
			return exitf(ExitFailed, "inbox-link: "+describe(err))
		}
		fmt.Fprintf(env.Stderr, "revoked %s: every browser it signed in is signed out\n", revoke)
		return nil
	}
	l, err := c.CreateInboxLink(ctx, name, ttl)
	if err != nil {
		return exitf(ExitFailed, "inbox-link: "+describe(err))
	}
	fmt.Fprintln(env.Stdout, l.URL)
	fmt.Fprintf(env.Stderr, "inbox link %s%s, valid until %s; revoke it with: feedbackd inbox-link --revoke %s\n",
		l.ID, quoted(l.Name), l.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), l.ID)
	if isTerminal(env.Stderr) {
		if err := writeQR(env.Stderr, l.URL); err != nil {
			fmt.Fprintf(env.Stderr, "(no QR code: %v)\n", err)
		}
	}
	return nil
}

func quoted(name string) string {
	if name == "" {
		return ""
	}
	return " (" + strconv.Quote(name) + ")"
}

// printLinks lists links as a table.
func printLinks(w io.Writer, links []client.InboxLink) {
	if len(links) == 0 {
		fmt.Fprintln(w, "no inbox links")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tEXPIRES\tLAST USED")
	for _, l := range links {
		used := "never"
		if !l.LastUsedAt.IsZero() {
			used = l.LastUsedAt.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.ID, oneLine(l.Name), l.ExpiresAt.Local().Format("2006-01-02 15:04"), used)
	}
	_ = tw.Flush()
}

// parseLife reads a link's life: a Go duration (12h, 90m) or a number of
// days (30d), in whole seconds.
func parseLife(s string) (time.Duration, error) {
	bad := fmt.Errorf("--ttl %q: want a duration such as 30d, 12h or 90m", s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Second != 0 {
		return 0, bad
	}
	return d, nil
}
