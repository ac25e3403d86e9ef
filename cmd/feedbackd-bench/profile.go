package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// pprofBase finds where srv serves /debug/pprof: on METRICS_ADDR (with
// DEBUG_PPROF=true), or, for a build patched to be profiled "before", on
// BENCH_PPROF_ADDR.
func pprofBase(ctx context.Context, srv *child) (string, error) {
	for _, base := range []string{srv.opsURL, srv.pprofAlt} {
		if base == "" {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/debug/pprof/cmdline", nil)
		res, err := healthClient.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return base + "/debug/pprof/", nil
		}
	}
	return "", errors.New("the server serves no /debug/pprof (DEBUG_PPROF=true with METRICS_ADDR, in this version of feedbackd)")
}

// fetchProfile saves the profile at url into file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("fetch %s: HTTP %d: %s", url, res.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	return f.Close()
}

// profileFile names a profile of this build.
func (m *measurer) profileFile(scenario, kind string) string {
	label := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, m.o.label)
	return filepath.Join(m.o.profileDir, fmt.Sprintf("%s-%s.%s.pb.gz", label, scenario, kind))
}

// profile runs l against srv while taking a CPU profile and an allocation
// profile (the allocations of those seconds only) of it.
func (m *measurer) profile(ctx context.Context, srv *child, name string, l load) error {
	base, err := pprofBase(ctx, srv)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	secs := max(1, int(l.dur/time.Second))
	l.dur = time.Duration(secs)*time.Second + 300*time.Millisecond // covers the profile's window
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, kind := range []string{"cpu", "allocs"} {
		path := "profile"
		if kind == "allocs" {
			path = "allocs"
		}
		wg.Go(func() {
			errs[i] = fetchProfile(ctx, fmt.Sprintf("%s%s?seconds=%d", base, path, secs), m.profileFile(name, kind))
		})
	}
	res, lerr := l.run(ctx, srv)
	wg.Wait()
	if err := errors.Join(append(errs, lerr)...); err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	fmt.Fprintf(m.out, "profiled %s at concurrency %d: %d requests, %.0f/s, %d µs CPU each: %s, %s\n", name, l.conc, res.ok, res.perSecond(),
		res.cpuPerRequest().Microseconds(), m.profileFile(name, "cpu"), m.profileFile(name, "allocs"))
	return nil
}

// heapProfile saves srv's heap profile as scenario's.
func (m *measurer) heapProfile(ctx context.Context, srv *child, scenario string) error {
	base, err := pprofBase(ctx, srv)
	if err != nil {
		return err
	}
	// gc=1: the live heap, not what a collection would free.
	file := m.profileFile(scenario, "heap")
	if err := fetchProfile(ctx, base+"heap?gc=1", file); err != nil {
		return err
	}
	fmt.Fprintf(m.out, "heap profile: %s\n", file)
	return nil
}
