package program_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush/pushfake"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

var sessionInText = regexp.MustCompile(`/feedback/([0-9a-f-]{36})`)

// BenchmarkProgramCreateToDelivered measures, through the real program
// (the edge and the dispatcher roles over one NATS server, all in this
// process), the time from an agent's REST create to the question arriving
// at each channel's local fake, with a question asked every pace so that
// the figure is latency, not queueing:
//
//	go test -run '^$' -bench ProgramCreateToDelivered -benchtime 400x ./cmd/feedbackd/program/
//
// It reports p50/p99/max in ms, and the process's CPU per question: the
// NATS server, the edge, the dispatcher, the fake and the client all count.
// The edge-only sub-benchmark runs no dispatcher, so the difference is what
// dispatching one question to one channel costs.
func BenchmarkProgramCreateToDelivered(b *testing.B) {
	const pace = 10 * time.Millisecond
	for _, channel := range []string{"edge-only", "webhook", "telegram", "slack", "ntfy", "webpush"} {
		b.Run(channel, func(b *testing.B) {
			ns := programtest.StartNATS(b)
			edge := programtest.MustRunMain(b, programtest.Role("edge"), programtest.NATS(ns.URL))
			env := []programtest.Option{programtest.Role("dispatcher"), programtest.NATS(ns.URL), programtest.Env("PUBLIC_URL", edge.URL())}
			var arrivals func() map[string]time.Time
			collect := func(at map[string]time.Time, text string, when time.Time) {
				if m := sessionInText.FindStringSubmatch(text); m != nil {
					at[m[1]] = when
				}
			}
			switch channel {
			case "webhook":
				secret := channels.NewWebhookSecret()
				r := dispatchtest.NewWebhookReceiver(b, secret)
				env = append(env, programtest.Env("NOTIFY_WEBHOOK_URL", r.URL), programtest.Env("NOTIFY_WEBHOOK_SECRET", secret),
					programtest.Env("NOTIFY_WEBHOOK_EVENTS", "session.created"))
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, d := range r.Accepted() {
						collect(out, string(d.Body), d.At)
					}
					return out
				}
			case "telegram":
				fake := telegramfake.Start(b, telegramfake.Config{Token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"})
				env = append(env, programtest.Env("TELEGRAM_BOT_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
					programtest.Env("TELEGRAM_API_URL", fake.URL), programtest.Env("TELEGRAM_CHAT_ID", fmt.Sprint(telegramfake.DefaultChatID)))
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, m := range fake.Messages(telegramfake.DefaultChatID) {
						collect(out, m.Plain, m.Date)
					}
					return out
				}
			case "slack":
				s := dispatchtest.NewSlack(b)
				env = append(env, programtest.Env("SLACK_WEBHOOK_URL", s.URL))
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, p := range s.Posts() {
						raw, _ := json.Marshal(p.Blocks)
						collect(out, string(raw), p.At)
					}
					return out
				}
			case "ntfy":
				n := dispatchtest.NewNtfy(b, "")
				env = append(env, programtest.Env("NTFY_URL", n.TopicURL("bench")))
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, m := range n.Messages() {
						collect(out, m.Click, m.At)
					}
					return out
				}
			case "webpush":
				fake := pushfake.Start(b, pushfake.Config{})
				// The browser subscribes with the cluster's key, which the
				// dispatcher's configuration carries.
				env = append(env, programtest.Dispatch(func(c *dispatch.Config) {
					c.WebPush.HTTPClient = fake.Client()
					sub, err := fake.Subscribe(c.WebPush.Keys.PublicKey())
					if err != nil {
						b.Fatal(err)
					}
					in := &channels.PushSubscriptionInput{Endpoint: sub.Endpoint}
					in.Keys.P256dh, in.Keys.Auth = sub.P256dh, sub.Auth
					if _, err := c.Channels.AddPushSubscription(context.Background(), programtest.PrincipalA, in); err != nil {
						b.Fatal(err)
					}
				}), programtest.Env("WEBHOOK_ALLOW_PRIVATE", "true"))
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, m := range fake.Messages("") {
						if msg, err := webpush.DecodeMessage(m.Payload); err == nil {
							collect(out, msg.URL, m.ReceivedAt)
						}
					}
					return out
				}
			}
			if arrivals != nil {
				programtest.MustRunMain(b, env...)
			}
			created := make(map[string]time.Time, b.N)
			client := &http.Client{}
			cpu0 := cpuTime()
			b.ResetTimer()
			next := time.Now()
			for range b.N {
				time.Sleep(time.Until(next)) // the pace is the load under test
				next = next.Add(pace)
				start := time.Now()
				id := createREST(b, client, edge.URL())
				created[id] = start
			}
			var got map[string]time.Time
			if arrivals != nil {
				programtest.WaitFor(b, 60*time.Second, func() error {
					if got = arrivals(); len(got) < b.N {
						return fmt.Errorf("%d of %d delivered", len(got), b.N)
					}
					return nil
				})
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/question")
			if arrivals == nil {
				return
			}
			lat := make([]time.Duration, 0, b.N)
			for id, at := range created {
				lat = append(lat, got[id].Sub(at))
			}
			slices.Sort(lat)
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}

// createREST asks a question as an agent's script does and returns its id.
func createREST(b *testing.B, client *http.Client, base string) string {
	req, _ := http.NewRequest("POST", base+"/api/feedback/create",
		bytes.NewReader([]byte(`{"message":"Benchmark question","predefinedOptions":["Yes","No"],"timeout":600}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", programtest.KeyA)
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var env struct {
		Data struct{ SessionID string } `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || res.StatusCode != 201 {
		b.Fatalf("create: %d %v", res.StatusCode, err)
	}
	return env.Data.SessionID
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
