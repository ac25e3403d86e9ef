package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func TestParseAuthorization(t *testing.T) {
	long := strings.Repeat("a", auth.MaxCredentialLen-len("Bearer "))
	tests := []struct {
		header     string
		scheme     string
		credential string // empty: refused
	}{
		{"Bearer abc.def.ghi", "Bearer", "abc.def.ghi"},
		{"bearer abc", "bearer", "abc"},
		{"ApiKey k-_~+/=", "ApiKey", "k-_~+/="},
		{"  ApiKey   k  ", "ApiKey", "k"},
		{"\tBearer t\t", "Bearer", "t"},
		{"Bearer " + long, "Bearer", long},
		{"Bearer " + long + "a", "", ""},
		{strings.Repeat("x", 10<<10), "", ""},
		{"", "", ""},
		{"   ", "", ""},
		{"Bearer", "", ""},
		{"Bearer ", "", ""},
		{"Bearer a b", "", ""},
		{"Bearer a\tb", "", ""},
		{"Bearer\ta", "", ""},
		{"Bearer a\x00", "", ""},
		{"Bearer a\nb", "", ""},
		{"Bearer a\x7f", "", ""},
		{"Bearer caf\u00e9", "", ""},
		{"Bea(rer a", "", ""},
		{" a", "a", ""},
		{"Digest a=1, b=2", "", ""},
	}
	for _, tt := range tests {
		scheme, cred, err := auth.ParseAuthorization(tt.header)
		name := tt.header
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		if tt.credential == "" {
			if err == nil {
				t.Errorf("ParseAuthorization(%q) = %q, %q; want an error", name, scheme, cred)
				continue
			}
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("ParseAuthorization(%q) error %v does not wrap ErrUnauthorized", name, err)
			}
			if scheme != "" || cred != "" {
				t.Errorf("ParseAuthorization(%q) returned %q, %q with an error", name, scheme, cred)
			}
			continue
		}
		if err != nil || scheme != tt.scheme || cred != tt.credential {
			t.Errorf("ParseAuthorization(%q) = %q, %q, %v; want %q, %q", name, scheme, cred, err, tt.scheme, tt.credential)
		}
	}
}
