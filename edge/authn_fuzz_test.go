package edge_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

// FuzzAuthorizationHeader sends arbitrary Authorization headers through the
// edge's HTTP stack to an MCP-style route: whatever arrives, the answer is
// 204 for exactly the configured key and otherwise a 401 envelope with a
// Bearer challenge; never a panic, a 500, or the key echoed back.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, seed := range []string{
		"", "ApiKey " + keyA, "apikey  " + keyA, "Bearer " + keyA, "ApiKey " + keyA + " x", "ApiKey",
		"Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "Bearer a.b.c", "\tApiKey " + keyA + "\t",
		"ApiKey " + strings.Repeat("k", 9000), "Bearer \x7f", "Bearer é", `Bearer "quoted"`,
	} {
		f.Add(seed)
	}
	authn, err := auth.New(auth.Config{APIKeys: []string{keyA}, JWTSecret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	// No request reaches storage: the service only lends its limits.
	svc := sessions.NewService(nil, sessions.NewHub())
	srv := edge.New(edge.Config{}, svc, authn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A route under /sse gets the MCP challenge without the real transport.
	srv.App().Post("/sse/fuzz", srv.RequireAuth, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	f.Fuzz(func(t *testing.T, value string) {
		for i := 0; i < len(value); i++ {
			if b := value[i]; (b < ' ' && b != '\t') || b == 0x7f {
				t.Skip("not a header value a client can send")
			}
		}
		req, _ := http.NewRequest("POST", "http://127.0.0.1/sse/fuzz", nil)
		req.Header.Set("Authorization", value)
		res, err := srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		scheme, cred, perr := auth.ParseAuthorization(strings.Trim(value, " \t"))
		if perr == nil && strings.EqualFold(scheme, "ApiKey") && cred == keyA {
			if res.StatusCode != 204 {
				t.Fatalf("valid key refused: %d %s", res.StatusCode, body)
			}
			return
		}
		if res.StatusCode != 401 && res.StatusCode != 400 && res.StatusCode != 431 {
			t.Fatalf("%q: %d %s", value, res.StatusCode, body)
		}
		if res.StatusCode != 401 {
			return // refused by the HTTP parser before auth: fine
		}
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Bearer realm="feedbackd"`) || !strings.Contains(string(body), `"UNAUTHORIZED"`) {
			t.Fatalf("%q: 401 without challenge or envelope: %v %s", value, res.Header, body)
		}
		if strings.Contains(string(body), keyA) || strings.Contains(res.Header.Get("WWW-Authenticate"), keyA) {
			t.Fatalf("the key is echoed: %v %s", res.Header, body)
		}
	})
}
