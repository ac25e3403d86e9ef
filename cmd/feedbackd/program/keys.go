package program

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

// runToken is `feedbackd token`: it prints one HS256 JWT that this server
// accepts, and nothing else, on stdout. The secret comes from --secret or
// else JWT_SECRET; iss and aud come from JWT_ISSUER and JWT_AUDIENCE when
// set, so the token passes the server's checks, unless a --claim sets them.
func runToken(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject: the principal the token acts for (or give --claim userId=...)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime, as a Go duration: 30m, 24h")
	secret := fs.String("secret", "", "HS256 secret, overriding JWT_SECRET (others may see it in the process list: prefer the variable)")
	claims := map[string]any{}
	fs.Func("claim", "extra claim `k=v`, repeatable; numbers, true/false and JSON arrays stay JSON", func(kv string) error {
		k, v, err := auth.ParseClaim(kv)
		if err != nil {
			return err
		}
		claims[k] = v
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: feedbackd token --sub NAME [--ttl 1h] [--claim k=v]... [--secret S]")
		fs.PrintDefaults()
	}
	if err := parseCommandFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// Not echoed: a secret given without --secret would end up on screen.
		return errors.New("token: unexpected arguments; see feedbackd token -h")
	}

	key := *secret
	if key == "" {
		key = getenv("JWT_SECRET")
	}
	if key == "" {
		return errors.New("token: no secret: set JWT_SECRET or pass --secret")
	}
	if len(key) < auth.MinSecretLen {
		fmt.Fprintf(stderr, "warning: the secret is %d bytes; use at least %d (feedbackd apikey makes one)\n", len(key), auth.MinSecretLen)
	}
	for claim, env := range map[string]string{"iss": "JWT_ISSUER", "aud": "JWT_AUDIENCE"} {
		if _, set := claims[claim]; !set && getenv(env) != "" {
			claims[claim] = getenv(env)
		}
	}

	token, err := auth.MintHS256([]byte(key), *sub, *ttl, claims)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if _, err := fmt.Fprintln(stdout, token); err != nil {
		return fmt.Errorf("token: write: %w", err)
	}
	return nil
}

// runAPIKey is `feedbackd apikey`: it prints one new random API key, and
// nothing else, on stdout. Add it to API_KEYS (comma separated) to use it.
func runAPIKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apikey", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: feedbackd apikey\n\nPrints a new random API key (%d base62 characters) for API_KEYS.\n", auth.APIKeyLen)
	}
	if err := parseCommandFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("apikey: takes no arguments")
	}
	if _, err := fmt.Fprintln(stdout, auth.NewAPIKey()); err != nil {
		return fmt.Errorf("apikey: write: %w", err)
	}
	return nil
}

// parseCommandFlags parses a command's flags. Asked for help (-h, --help), it
// prints the usage on stdout and returns flag.ErrHelp, which the program
// answers with exit status 0; a wrong flag is reported on stderr with the
// usage.
func parseCommandFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	case err != nil:
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return err
	}
	return nil
}
