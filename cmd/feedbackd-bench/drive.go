package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// result is what a run measured.
type result struct {
	rec        *recorder
	elapsed    time.Duration
	iterations atomic.Int64 // succeeded
	failed     atomic.Int64
	missed     atomic.Int64 // open loop: scheduled but no worker free in time
	setupErrs  atomic.Int64
}

// drive runs the scenario: closed loop when o.Rate is 0, open loop
// otherwise. New iterations start until o.Duration has passed, o.MaxIterations
// have started, or ctx ends; iterations in flight then finish (each bounded
// by o.Timeout) so that the end of the run is not counted as errors.
func drive(ctx context.Context, o options, sc scenario) *result {
	res := &result{rec: newRecorder()}
	stopAt := time.Now().Add(o.Duration)
	runCtx, cancel := context.WithDeadline(ctx, stopAt)
	defer cancel()

	var started atomic.Int64
	take := func() (int64, bool) {
		n := started.Add(1)
		return n, n <= o.MaxIterations
	}
	one := func(w worker, n int64, scheduled time.Time) {
		// Not runCtx: an iteration that started keeps its whole timeout.
		ictx, icancel := context.WithTimeout(context.WithoutCancel(ctx), iterationBudget(o))
		defer icancel()
		err := w(ictx, res.rec, n)
		if err != nil {
			res.failed.Add(1)
			res.rec.fail("iteration", err)
			// A failing server answers fast; without a pause a closed loop
			// would turn its errors into a flood of requests.
			time.Sleep(failurePause)
			return
		}
		res.iterations.Add(1)
		res.rec.ok("iteration", time.Since(scheduled))
	}

	// In open loop, the dispatcher hands scheduled start times to workers.
	var ticks chan time.Time
	if o.Rate > 0 {
		ticks = make(chan time.Time, o.Concurrency)
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			w, closeW, err := sc.newWorker(runCtx, res.rec)
			if err != nil {
				res.setupErrs.Add(1)
				return
			}
			defer closeW()
			if ticks != nil {
				for at := range ticks {
					n, ok := take()
					if !ok {
						continue
					}
					one(w, n, at)
				}
				return
			}
			for runCtx.Err() == nil {
				n, ok := take()
				if !ok {
					return
				}
				one(w, n, time.Now())
			}
		})
	}
	if ticks != nil {
		dispatch(runCtx, o, ticks, &started, res)
		close(ticks)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// dispatch schedules iterations at o.Rate per second from now until ctx
// ends. Latency is measured from the scheduled time, so a server that falls
// behind shows it in the figures instead of quietly slowing the load
// (coordinated omission). When every worker is busy and the queue is full,
// the iteration is counted as missed rather than queued without bound.
func dispatch(ctx context.Context, o options, ticks chan<- time.Time, started *atomic.Int64, res *result) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if started.Load()+int64(len(ticks)) >= o.MaxIterations {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case ticks <- next:
		default:
			res.missed.Add(1)
		}
		next = next.Add(interval)
		timer.Reset(time.Until(next))
	}
}

// failurePause is how long a worker rests after a failed iteration.
const failurePause = 10 * time.Millisecond

// iterationBudget bounds one iteration: every step has o.Timeout, and no
// scenario has more than a handful of sequential steps.
func iterationBudget(o options) time.Duration { return 4 * o.Timeout }
