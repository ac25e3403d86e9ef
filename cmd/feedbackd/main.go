// Command feedbackd lets AI agents ask people questions and get the answers
// back. See README.md; the roles are described in SPEC §1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `feedbackd — ask people questions on behalf of AI agents

Usage:
  feedbackd [serve]   everything in one process with an embedded NATS server
  feedbackd edge      auth, MCP, REST API and pages against NATS_URL
  feedbackd notifier  the WebSocket service against NATS_URL (on NOTIFIER_ADDR)
  feedbackd expirer   enforces session timeouts against NATS_URL (health on EXPIRER_ADDR)
  feedbackd nats      one NATS server with JetStream (a cluster member with NATS_ROUTES)
  feedbackd token     print a signed HS256 JWT (--sub, --ttl, --claim k=v)
  feedbackd apikey    print a new random API key
  feedbackd healthcheck URL   exit 0 when URL answers 200 (for container health checks)
  feedbackd version   print the version

Configuration is read from the environment (and .env / .dev.vars); see README.md.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "feedbackd:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "token":
		if err := loadDotEnv(); err != nil {
			return err
		}
		return runToken(args, stdout, stderr, os.Getenv)
	case "apikey":
		return runAPIKey(args, stdout)
	case "healthcheck":
		return runHealthcheck(args, stdout)
	}
	role, ok := roles[cmd]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments; configure it with environment variables", cmd)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg).With("role", cmd)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := role(ctx, cfg, log, stdout); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
