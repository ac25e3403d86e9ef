package mcp

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/sessions"
)

// FuzzApprovalRequest: whatever a permission prompt tool call carries, the
// approval it asks for is one the domain accepts (details within their cap,
// a one-line action) or the call is refused as INVALID_REQUEST; it never
// fails for being large.
func FuzzApprovalRequest(f *testing.F) {
	for _, seed := range [][2]string{
		{"Bash", `{"command":"ls"}`}, {"Write", `{"content":"` + strings.Repeat("é\\n", 20000) + `"}`},
		{"a\nb\tc", `{}`}, {"", `{"x":1}`}, {"Edit", `[1,2]`}, {"Edit", `"s"`}, {"\x00", `{"\u2028":"\ud800"}`},
	} {
		f.Add(seed[0], seed[1])
	}
	limits := sessions.DefaultLimits(300e9, 3600e9)
	f.Fuzz(func(t *testing.T, name, input string) {
		args := &approvalArgs{ToolName: name, Input: json.RawMessage(input)}
		compact, err := checkApprovalArgs(args)
		if err != nil {
			if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
				t.Fatalf("refusal %v is not INVALID_REQUEST", err)
			}
			return
		}
		req := approvalRequest(args, compact, limits)
		if _, err := limits.ValidateCreate(req); err != nil {
			t.Fatalf("tool %q, input %.100q: the approval it asks for is refused: %v", name, input, err)
		}
		if !utf8.ValidString(req.Action) || strings.ContainsAny(req.Action, "\n\r") {
			t.Fatalf("action %q is not one line", req.Action)
		}
	})
}
