package dispatch_test

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// BenchmarkCreateToDelivered measures, per channel, the time from a
// session's creation to its announcement arriving at the channel's local
// fake, with one dispatcher replica, questions asked every pace (so the
// figure is latency, not queueing). Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench CreateToDelivered -benchtime 400x ./notifier/dispatch/
//
// It reports p50/p99 in ms and the process's CPU per event, which includes
// the embedded NATS server, the fake and the creates; the create-only
// sub-benchmark measures the same without a dispatcher, so the difference
// is what dispatching adds.
func BenchmarkCreateToDelivered(b *testing.B) {
	const pace = 10 * time.Millisecond
	for _, channel := range []string{"create-only", "webhook", "slack", "ntfy"} {
		b.Run(channel, func(b *testing.B) {
			h := newHarness(b, channels.Defaults{})
			var arrivals func() map[string]time.Time
			switch channel {
			case "webhook":
				secret := channels.NewWebhookSecret()
				r := dispatchtest.NewWebhookReceiver(b, secret)
				h.settings("bench", channels.Update{Webhooks: []channels.WebhookUpdate{{URL: r.URL, Secret: &secret,
					Events: []channels.Event{channels.EventCreated}}}})
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, d := range r.Accepted() {
						p, _ := d.Payload()
						data, _ := p["data"].(map[string]any)
						id, _ := data["sessionId"].(string)
						out[id] = d.At
					}
					return out
				}
			case "slack":
				s := dispatchtest.NewSlack(b)
				h.settings("bench", channels.Update{Slack: &channels.SlackUpdate{WebhookURL: &s.URL}})
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, p := range s.Posts() {
						url := p.Blocks[len(p.Blocks)-1].Elements[0].URL
						out[url[strings.LastIndex(url, "/")+1:]] = p.At
					}
					return out
				}
			case "ntfy":
				n := dispatchtest.NewNtfy(b, "")
				h.settings("bench", channels.Update{Ntfy: &channels.NtfyUpdate{URL: n.TopicURL("bench")}})
				arrivals = func() map[string]time.Time {
					out := map[string]time.Time{}
					for _, m := range n.Messages() {
						out[m.Click[strings.LastIndex(m.Click, "/")+1:]] = m.At
					}
					return out
				}
			}
			if arrivals != nil {
				h.start()
			}
			created := make(map[string]time.Time, b.N)
			cpu0 := cpuTime()
			b.ResetTimer()
			next := time.Now()
			for range b.N {
				time.Sleep(time.Until(next)) // the pace is the load under test
				next = next.Add(pace)
				s := h.create("bench", sessions.CreateRequest{Message: "Benchmark question", Timeout: ptrNum("600")})
				created[s.ID] = s.CreatedAt
			}
			if arrivals == nil {
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
				return
			}
			var got map[string]time.Time
			poll.Until(b, 60*time.Second, func() error {
				if got = arrivals(); len(got) < b.N {
					return fmt.Errorf("%d of %d delivered", len(got), b.N)
				}
				return nil
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
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

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
