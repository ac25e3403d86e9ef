package clientcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// Env is what a command gets from the program: its output streams and the
// environment (the process's, with .env and .dev.vars as a fallback).
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// connectFlags are the flags every client command has: where the server is
// and which credential to use.
type connectFlags struct {
	url        string
	apiKeyFile string
}

func (cf *connectFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.url, "url", "", "the server's base URL (default $FEEDBACKD_URL, else "+client.DefaultURL+")")
	fs.StringVar(&cf.apiKeyFile, "api-key-file", "", "read the API key from this file (instead of $FEEDBACKD_API_KEY)")
}

// credentialsHelp says where a command finds its credential.
const credentialsHelp = `Credentials, never on the command line (it lands in shell history and process lists):
  --api-key-file FILE, else $FEEDBACKD_API_KEY, else $FEEDBACKD_TOKEN (a JWT),
  else $DATA_DIR/api-key (./data/api-key): the key feedbackd serve generated
  when it runs from the same directory.`

// client builds the client the flags and the environment describe, with
// extra options last.
func (cf *connectFlags) client(env Env, extra ...client.Option) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("feedbackd-cli")}
	base := cf.url
	if base == "" {
		base = env.Getenv(client.EnvURL)
	}
	if base != "" {
		opts = append(opts, client.WithBaseURL(base))
	}
	key, token := env.Getenv(client.EnvAPIKey), env.Getenv(client.EnvToken)
	switch {
	case cf.apiKeyFile != "":
		k, err := readKey(cf.apiKeyFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithAPIKey(k))
	case key != "" && token != "":
		return nil, fmt.Errorf("both %s and %s are set: set one", client.EnvAPIKey, client.EnvToken)
	case key != "":
		opts = append(opts, client.WithAPIKey(key))
	case token != "":
		opts = append(opts, client.WithToken(token))
	default:
		dir := env.Getenv("DATA_DIR")
		if dir == "" {
			dir = "data"
		}
		if k, err := readKey(filepath.Join(dir, "api-key")); err == nil {
			opts = append(opts, client.WithAPIKey(k))
		}
	}
	return client.New(append(opts, extra...)...)
}

// readKey reads a key file: the key on its first line.
func readKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the API key: %w", err)
	}
	k, _, _ := strings.Cut(string(b), "\n")
	if k = strings.TrimSpace(k); k == "" {
		return "", fmt.Errorf("read the API key: %s is empty", path)
	}
	return k, nil
}

// parseInterleaved parses flags that may come before and after the
// positional arguments (feedbackd ask "Ship it?" --option Yes), as people
// write them; after "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	rest := args
	for {
		var tail []string
		if i := indexOf(rest, "--"); i >= 0 {
			rest, tail = rest[:i], rest[i+1:]
		}
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			return append(positional, tail...), nil
		}
		positional = append(positional, rest[0])
		rest = append(rest[1:], prefixed(tail)...)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// prefixed puts a "--" back in front of args, if any.
func prefixed(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	return append([]string{"--"}, args...)
}

// usageError is a mistake in how a command was called.
func usageError(cmd string, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return exitf(ExitFailed, fmt.Sprintf("%s: %v (see feedbackd %s --help)", cmd, err, cmd))
}

// repeated is a flag that may be given many times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ", ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
