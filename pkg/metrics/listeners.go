package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ListenerStats are the counts of one listening socket (pkg/listener's
// Stats).
type ListenerStats struct {
	Open, Max                       int
	Accepted, Refused, AcceptErrors uint64
}

// listenerCollector reads the tracked listeners at scrape time.
var listenerCollector = &listeners{byName: make(map[string]map[*trackedListener]struct{})}

var (
	listenerOpenDesc = prometheus.NewDesc(namespace+"_listener_connections",
		"Connections open now on a listening socket (edge, notifier, ops).", []string{"listener"}, nil)
	listenerMaxDesc = prometheus.NewDesc(namespace+"_listener_max_connections",
		"The cap on open connections of a listening socket (MAX_CONNS for edge and notifier); 0 means none.", []string{"listener"}, nil)
	listenerAcceptedDesc = prometheus.NewDesc(namespace+"_listener_accepted_total",
		"Connections a listening socket took.", []string{"listener"}, nil)
	listenerRefusedDesc = prometheus.NewDesc(namespace+"_listener_refused_total",
		"Connections refused with 503 because the listener was at its cap.", []string{"listener"}, nil)
	listenerErrorsDesc = prometheus.NewDesc(namespace+"_listener_accept_errors_total",
		"Failed accepts (out of file descriptors, say), each followed by a backoff.", []string{"listener"}, nil)
)

type trackedListener struct{ stats func() ListenerStats }

type listeners struct {
	mu     sync.Mutex
	byName map[string]map[*trackedListener]struct{}
}

// TrackListener reports the listener called name (edge, notifier, ops) as
// feedbackd_listener_* until untrack is called; stats is read at each
// scrape. Listeners tracked under one name are added up.
func TrackListener(name string, stats func() ListenerStats) (untrack func()) {
	t := &trackedListener{stats: stats}
	listenerCollector.mu.Lock()
	set := listenerCollector.byName[name]
	if set == nil {
		set = make(map[*trackedListener]struct{})
		listenerCollector.byName[name] = set
	}
	set[t] = struct{}{}
	listenerCollector.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			listenerCollector.mu.Lock()
			defer listenerCollector.mu.Unlock()
			delete(set, t)
			if len(set) == 0 {
				delete(listenerCollector.byName, name)
			}
		})
	}
}

func (l *listeners) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{listenerOpenDesc, listenerMaxDesc, listenerAcceptedDesc, listenerRefusedDesc, listenerErrorsDesc} {
		ch <- d
	}
}

func (l *listeners) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, set := range l.byName {
		var sum ListenerStats
		for t := range set {
			s := t.stats()
			sum.Open += s.Open
			sum.Max += s.Max
			sum.Accepted += s.Accepted
			sum.Refused += s.Refused
			sum.AcceptErrors += s.AcceptErrors
		}
		ch <- prometheus.MustNewConstMetric(listenerOpenDesc, prometheus.GaugeValue, float64(sum.Open), name)
		ch <- prometheus.MustNewConstMetric(listenerMaxDesc, prometheus.GaugeValue, float64(sum.Max), name)
		ch <- prometheus.MustNewConstMetric(listenerAcceptedDesc, prometheus.CounterValue, float64(sum.Accepted), name)
		ch <- prometheus.MustNewConstMetric(listenerRefusedDesc, prometheus.CounterValue, float64(sum.Refused), name)
		ch <- prometheus.MustNewConstMetric(listenerErrorsDesc, prometheus.CounterValue, float64(sum.AcceptErrors), name)
	}
}
