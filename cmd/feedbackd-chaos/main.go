// Command feedbackd-chaos runs a steady load against a feedbackd cluster
// (deploy/local/cluster.sh) while it SIGKILLs and restarts one edge, one
// notifier, one expirer, one dispatcher and one NATS node at random moments,
// then checks that nothing was lost:
//
//   - every session ends in exactly one terminal state;
//   - every accepted answer (a 200 on submit) is readable in the result;
//   - every session expired at most once (counted on the KV change feed);
//   - WebSocket clients that reconnected hold the final status;
//   - MCP clients over both transports completed their calls (retrying after
//     a dropped connection is allowed);
//   - the operator-wide webhook, which the tool itself receives on
//     -webhook-addr (the cluster's NOTIFY_WEBHOOK_URL), got every session's
//     question and end, each event under one webhook-id however often it was
//     delivered, every delivery signed with NOTIFY_WEBHOOK_SECRET (read from
//     the environment, as the cluster reads it).
//
// It only ever talks to the addresses it is given (loopback by default) and
// stops by itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	url        string
	natsURL    string
	key        string
	cluster    string
	duration   time.Duration
	rate       float64
	killEvery  time.Duration
	down       time.Duration
	wsShare    int // one session in wsShare gets a WebSocket watcher
	mcpWorkers int
	timeout    int

	webhookAddr   string
	webhookSecret string
	refuseEvery   int
	hookDelay     time.Duration
	ackWait       time.Duration
}

func main() {
	var o options
	keyFile := flag.String("key-file", "deploy/local/run/api-key", "file holding the API key")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8780", "the load balancer's base URL")
	flag.StringVar(&o.natsURL, "nats", "nats://127.0.0.1:4241,nats://127.0.0.1:4242,nats://127.0.0.1:4243", "NATS URLs, to follow the change feed")
	flag.StringVar(&o.cluster, "cluster", "deploy/local/cluster.sh", "the cluster script that kills and starts processes")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long to keep the load and the kills going")
	flag.Float64Var(&o.rate, "rate", 4, "sessions created per second")
	flag.DurationVar(&o.killEvery, "kill-every", 8*time.Second, "time between kills")
	flag.DurationVar(&o.down, "down", 3*time.Second, "how long a killed process stays down")
	flag.IntVar(&o.wsShare, "ws-every", 3, "watch one session in N over WebSocket")
	flag.IntVar(&o.mcpWorkers, "mcp-workers", 2, "MCP clients per transport")
	flag.IntVar(&o.timeout, "session-timeout", 30, "session timeout in seconds (sessions left to expire)")
	flag.StringVar(&o.webhookAddr, "webhook-addr", "127.0.0.1:8795", "where to receive the cluster's webhook (NOTIFY_WEBHOOK_URL points here)")
	flag.IntVar(&o.refuseEvery, "webhook-refuse-every", 0, "answer 503 to the first attempt of one webhook event in N, to exercise retries (0: never)")
	flag.DurationVar(&o.hookDelay, "webhook-delay", 0, "hold each accepted webhook request open for a random time up to this before answering")
	flag.DurationVar(&o.ackWait, "dispatch-ack-wait", 45*time.Second, "the dispatchers' DISPATCH_ACK_WAIT: how long a delivery held by a killed one waits")
	flag.Parse()
	o.webhookSecret = os.Getenv("NOTIFY_WEBHOOK_SECRET")
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	o.key = strings.TrimSpace(string(b))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, o, log); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: FAIL:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	feed, err := watchFeed(ctx, o.natsURL, log)
	if err != nil {
		return err
	}
	defer feed.stop()
	hooks, err := startHookLog(o.webhookAddr, o.webhookSecret, o.refuseEvery, o.hookDelay, log)
	if err != nil {
		return err
	}
	defer hooks.stop()

	api := newAPI(o.url, o.key)
	var (
		mu       sync.Mutex
		all      []*tracked
		watchers []*wsWatcher
	)
	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	// Watchers and MCP clients outlive the load: they finish their sessions.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()

	var wg sync.WaitGroup
	kills := &killLog{}
	wg.Go(func() { killer(loadCtx, o, kills, log) })

	mcpStats := map[string]*mcpStat{"streamable": {}, "sse": {}}
	var mcpSessions []string
	var mcpMu sync.Mutex
	var mcpRunning atomic.Int32
	for transport, st := range mcpStats {
		for range o.mcpWorkers {
			mcpRunning.Add(1)
			wg.Go(func() {
				defer mcpRunning.Add(-1)
				ids := mcpWorker(loadCtx, o, transport, st, log)
				mcpMu.Lock()
				mcpSessions = append(mcpSessions, ids...)
				mcpMu.Unlock()
			})
		}
	}

	var sessWG sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	n := 0
load:
	for {
		select {
		case <-loadCtx.Done():
			break load
		case <-tick.C:
		}
		n++
		i := n
		sessWG.Go(func() {
			t := newSession(loadCtx, api, i, o.timeout)
			if t == nil {
				return
			}
			mu.Lock()
			all = append(all, t)
			if i%o.wsShare == 0 {
				w := &wsWatcher{id: t.id}
				watchers = append(watchers, w)
				wg.Go(func() { w.run(runCtx, o.url, o.key) })
			}
			mu.Unlock()
			t.act(loadCtx, api)
		})
	}
	tick.Stop()
	sessWG.Wait()
	log.Info("load finished; waiting for the last deadlines", "sessions", len(all))

	// Wait until every session the load made has finished on the feed: at
	// the latest its deadline, plus the expirer's lateness and a restart.
	// A session that never finishes is reported by verify.
	last := time.Now().Add(time.Duration(o.timeout)*time.Second + 10*time.Second)
	finished := func() bool {
		if mcpRunning.Load() > 0 {
			return false // their sessions are not all known yet
		}
		mu.Lock()
		ids := make([]string, 0, len(all))
		for _, t := range all {
			ids = append(ids, t.id)
		}
		mu.Unlock()
		mcpMu.Lock()
		ids = append(ids, mcpSessions...)
		mcpMu.Unlock()
		for _, id := range ids {
			if len(feed.terminal(id)) == 0 {
				return false
			}
		}
		return true
	}
	check := time.NewTicker(250 * time.Millisecond)
	defer check.Stop()
	for !finished() && time.Now().Before(last) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
		}
	}
	// Bring anything still down back before the checks.
	out, _ := exec.Command("bash", o.cluster, "status").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "down" {
			_ = exec.Command("bash", o.cluster, "start", f[0]).Run()
		}
	}
	for _, w := range watchers {
		w.waitFinal(15 * time.Second)
	}
	stopRun()
	wg.Wait()

	mcpMu.Lock()
	for _, id := range mcpSessions {
		all = append(all, &tracked{id: id, fate: fateMCP})
	}
	mcpMu.Unlock()

	// Webhook events a killed dispatcher held come back after the job
	// consumer's ack wait (DISPATCH_ACK_WAIT), or, for a change it had not
	// yet fanned out, after the feed consumer's 30 s; wait that long, and a
	// little more, for the stragglers. What is still missing then is lost.
	finals := make(map[string]string, len(all))
	for _, t := range all {
		if terms := feed.terminal(t.id); len(terms) == 1 {
			finals[t.id] = terms[0]
		} else {
			finals[t.id] = ""
		}
	}
	waitFrom := time.Now()
	lateAfterWait := hooks.missing(finals)
	last = waitFrom.Add(o.ackWait + 30*time.Second + 15*time.Second)
	for hooks.missing(finals) > 0 && time.Now().Before(last) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
		}
	}
	waited := time.Since(waitFrom)
	log.Info("webhook deliveries settled", "missing at first", lateAfterWait, "waited", waited.Round(100*time.Millisecond))

	r := verify(ctx, api, all, watchers, feed, mcpStats, hooks)
	r.hooks.lateAfterWait, r.hooks.waited = lateAfterWait, waited
	r.kills = kills.list()
	r.checkKills()
	r.print(os.Stdout)
	return r.summary(os.Stdout)
}

// killLog remembers what was killed, for the report.
type killLog struct {
	mu    sync.Mutex
	names []string
}

func (k *killLog) add(n string) { k.mu.Lock(); k.names = append(k.names, n); k.mu.Unlock() }
func (k *killLog) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.names...)
}

// killKinds are the kinds of process the killer takes turns at, and
// replicas how many of each the cluster runs (deploy/local/cluster.sh).
var (
	killKinds = []string{"edge", "notifier", "expirer", "dispatcher", "nats"}
	replicas  = map[string]int{"edge": 2, "notifier": 2, "expirer": 2, "dispatcher": 2, "nats": 3}
)

// killer SIGKILLs one process of each kind in turn, in random order and at
// random moments, and starts it again after a while. The first round is
// squeezed into the run if need be, so even a short run kills every kind.
func killer(ctx context.Context, o options, kills *killLog, log *slog.Logger) {
	order := slices.Clone(killKinds)
	deadline, _ := ctx.Deadline()
	for round := 0; ; round++ {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i, kind := range order {
			wait := o.killEvery/2 + rand.N(o.killEvery)
			if round == 0 && !deadline.IsZero() {
				// Leave each kind still to come its time down and a restart
				// (a few seconds: a NATS node catching up is the slowest).
				left := time.Duration(len(order) - i)
				if fit := time.Until(deadline)/left - o.down - 3*time.Second; wait > fit {
					wait = max(fit, 0)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			name := fmt.Sprintf("%s-%d", kind, 1+rand.N(replicas[kind]))
			log.Info("SIGKILL", "process", name)
			if out, err := exec.Command("bash", o.cluster, "kill", name).CombinedOutput(); err != nil {
				log.Warn("kill failed", "process", name, "err", err, "out", string(out))
				continue
			}
			kills.add(name)
			time.Sleep(o.down)
			if out, err := exec.Command("bash", o.cluster, "start", name).CombinedOutput(); err != nil {
				log.Error("restart failed", "process", name, "err", err, "out", string(out))
			}
		}
	}
}
