package redact_test

import (
	"testing"

	"github.com/feedbackd/feedbackd/pkg/redact"
)

func TestIDsShortensEveryID(t *testing.T) {
	const id = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	for in, want := range map[string]string{
		"/feedback/" + id:                                "/feedback/3f2a1b4c…",
		"/api/feedback/" + id + "/result?wait=30":        "/api/feedback/3f2a1b4c…/result?wait=30",
		"/ws/" + id + "?token=x&clientType=web":          "/ws/3f2a1b4c…?token=x&clientType=web",
		"/FEEDBACK/3F2A1B4C-5D6E-4F70-8A9B-0C1D2E3F4A5B": "/FEEDBACK/3F2A1B4C…",
		"/a/" + id + "/" + id:                            "/a/3f2a1b4c…/3f2a1b4c…",
		"/api/feedback?limit=5":                          "/api/feedback?limit=5",
		"/x?next=/feedback/" + id:                        "/x?next=/feedback/3f2a1b4c…",
		"/sse/message?sessionId=" + id + "&x=1":          "/sse/message?sessionId=3f2a1b4c…&x=1",
		"/feedback/" + id[:35]:                           "/feedback/" + id[:35],
		"/feedback/" + id + "x":                          "/feedback/3f2a1b4c…x",
		"/feedback/" + id + "0":                          "/feedback/" + id + "0", // 37 hex-ish characters: not an id
		"/feedback/" + id[:8] + "_" + id[9:]:             "/feedback/" + id[:8] + "_" + id[9:],
		"":                                               "",
	} {
		if got := redact.IDs(in); got != want {
			t.Errorf("IDs(%q) = %q, want %q", in, got, want)
		}
	}
	if got := redact.ID(id); got != "3f2a1b4c…" {
		t.Errorf("ID = %q", got)
	}
	if got := redact.ID("short"); got != "short" {
		t.Errorf("ID(short) = %q", got)
	}
}

// IDs runs on the path of every access log line.
func BenchmarkIDs(b *testing.B) {
	for name, p := range map[string]string{
		"no id":   "/api/feedback?status=pending&limit=20",
		"one id":  "/api/feedback/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b/result?wait=30",
		"no path": "/health",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				redact.IDs(p)
			}
		})
	}
}
