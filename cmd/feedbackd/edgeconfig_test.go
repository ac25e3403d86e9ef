package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/edge"
)

func TestEdgeProtectionDefaults(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ec := edgeConfig(cfg)
	for name, got := range map[string][2]edge.RateLimit{
		"create": {ec.CreateLimit, {Requests: 60, Per: time.Minute, Burst: 20}},
		"submit": {ec.SubmitLimit, {Requests: 30, Per: time.Minute, Burst: 10}},
		"page":   {ec.PageLimit, {Requests: 30, Per: time.Minute, Burst: 10}},
	} {
		if got[0] != got[1] {
			t.Errorf("%s limit %+v, want %+v", name, got[0], got[1])
		}
	}
	if len(ec.TrustedProxies) != 0 || len(ec.AllowedOrigins) != 0 || len(ec.AuthorizationServers) != 0 {
		t.Errorf("defaults trust or allow something: %+v", ec)
	}
}

func TestEdgeProtectionFromTheEnvironment(t *testing.T) {
	t.Setenv("RATE_LIMIT_CREATE", "10/1h,burst=2")
	t.Setenv("RATE_LIMIT_SUBMIT", "off")
	t.Setenv("RATE_LIMIT_PAGE", "100/min")
	t.Setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1,::1,10.1.2.3/16")
	t.Setenv("ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000")
	t.Setenv("JWKS_URL", "https://idp.example.com/.well-known/jwks.json")
	t.Setenv("JWT_ISSUER", "https://idp.example.com/")
	t.Setenv("OAUTH_SCOPES", "feedback, openid")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ec := edgeConfig(cfg)
	if ec.CreateLimit != (edge.RateLimit{Requests: 10, Per: time.Hour, Burst: 2}) || ec.SubmitLimit != (edge.RateLimit{}) ||
		ec.PageLimit != (edge.RateLimit{Requests: 100, Per: time.Minute, Burst: 100}) {
		t.Errorf("limits %v %v %v", ec.CreateLimit, ec.SubmitLimit, ec.PageLimit)
	}
	wantProxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.0.0/16"),
	}
	if !reflect.DeepEqual(ec.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies %v", ec.TrustedProxies)
	}
	if !reflect.DeepEqual(ec.AllowedOrigins, []string{"https://app.example.com", "http://localhost:3000"}) {
		t.Errorf("origins %q", ec.AllowedOrigins)
	}
	if !reflect.DeepEqual(ec.AuthorizationServers, []string{"https://idp.example.com/"}) || !reflect.DeepEqual(ec.Scopes, []string{"feedback", "openid"}) {
		t.Errorf("authorization servers %q, scopes %q", ec.AuthorizationServers, ec.Scopes)
	}

	// Without an issuer there is no authorization server to name.
	t.Setenv("JWT_ISSUER", "")
	cfg, err = loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if ec := edgeConfig(cfg); ec.AuthorizationServers != nil {
		t.Errorf("authorization servers without JWT_ISSUER: %q", ec.AuthorizationServers)
	}
}

func TestEdgeProtectionRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"RATE_LIMIT_CREATE", "lots", "RATE_LIMIT_CREATE"},
		{"RATE_LIMIT_SUBMIT", "30/min,burst=0", "RATE_LIMIT_SUBMIT"},
		{"RATE_LIMIT_PAGE", "30/ms", "RATE_LIMIT_PAGE"},
		{"TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal", "proxy.internal"},
		{"ALLOWED_ORIGINS", "*", "no wildcard"},
		{"ALLOWED_ORIGINS", "https://*.example.com", "no wildcard"},
		{"ALLOWED_ORIGINS", "https://app.example.com/path", "no path"},
		{"ALLOWED_ORIGINS", "app.example.com", "exact origin"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			_, err := loadConfig()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
