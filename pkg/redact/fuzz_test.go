package redact_test

import (
	"regexp"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/redact"
)

var fullID = regexp.MustCompile(`(?i)(^|[^0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}($|[^0-9a-f-])`)

// Whatever a client puts in a path, no whole id survives IDs.
func FuzzIDs(f *testing.F) {
	f.Add("/feedback/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b/state")
	f.Add("/a?x=3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b")
	f.Fuzz(func(t *testing.T, p string) {
		if out := redact.IDs(p); fullID.MatchString(out) {
			t.Fatalf("IDs(%q) = %q keeps an id", p, out)
		}
	})
}
