package program

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/edge"
)

// vars is an environment of the given variables only.
func vars(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestEdgeProtectionDefaults(t *testing.T) {
	cfg, err := loadConfig(vars())
	if err != nil {
		t.Fatal(err)
	}
	ec := edgeConfig(cfg, "test")
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
	given := []string{
		"RATE_LIMIT_CREATE", "10/1h,burst=2",
		"RATE_LIMIT_SUBMIT", "off",
		"RATE_LIMIT_PAGE", "100/min",
		"TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1,::1,10.1.2.3/16",
		"ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000",
		"JWKS_URL", "https://idp.example.com/.well-known/jwks.json",
		"JWT_ISSUER", "https://idp.example.com/",
		"OAUTH_SCOPES", "feedback, openid",
	}
	cfg, err := loadConfig(vars(given...))
	if err != nil {
		t.Fatal(err)
	}
	ec := edgeConfig(cfg, "test")
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
	cfg, err = loadConfig(vars(append(given, "JWT_ISSUER", "")...))
	if err != nil {
		t.Fatal(err)
	}
	if ec := edgeConfig(cfg, "test"); ec.AuthorizationServers != nil {
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
		{"ALLOWED_HOSTS", "https://feedback.example.com", `ALLOWED_HOSTS entry "https://feedback.example.com" is not a host name`},
		{"ALLOWED_HOSTS", "ok.example.com,a/b", `ALLOWED_HOSTS entry "a/b"`},
		{"MAX_CONNS", "-1", "MAX_CONNS=-1 must be 0"},
		{"MAX_WAITS_PER_PRINCIPAL", "-5", "MAX_WAITS_PER_PRINCIPAL=-5 must be 0"},
		{"NOTIFIER_MAX_CONNECTIONS", "-1", "NOTIFIER_MAX_CONNECTIONS=-1 must be 0"},
		{"DEBUG_PPROF", "true", "DEBUG_PPROF=true needs METRICS_ADDR"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := loadConfig(vars(tc.env, tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// A value the parser cannot read is reported with the variable and the
// value given, never with the Go field it lands in.
func TestConfigErrorsNameTheVariableAndTheValue(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"DEFAULT_TIMEOUT", "five minutes", `DEFAULT_TIMEOUT="five minutes": must be a whole number`},
		{"KV_REPLICAS", "3.5", `KV_REPLICAS="3.5": must be a whole number`},
		{"RESULT_RETENTION", "1 day", `RESULT_RETENTION="1 day": must be a duration`},
		{"AUTH_DISABLED", "yes please", `AUTH_DISABLED="yes please": must be true or false`},
		{"NOTIFIER_READ_LIMIT", "4k", `NOTIFIER_READ_LIMIT="4k": must be a whole number`},
		{"NOTIFIER_PING_INTERVAL", "often", `NOTIFIER_PING_INTERVAL="often": must be a duration`},
		{"MAX_TIMEOUT", "10", "DEFAULT_TIMEOUT=300 must be ≥ 30 and ≤ MAX_TIMEOUT=10"},
		{"LOG_LEVEL", "loud", `LOG_LEVEL="loud"`},
		{"MAX_CONNS", "lots", `MAX_CONNS="lots": must be a whole number`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			_, err := loadConfig(vars(tc.env, tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %s", err, tc.want)
			}
			for _, field := range []string{"DefaultTimeout", "KVReplicas", "ResultRetention", "AuthDisabled", "ReadLimit", "PingInterval", "parse error on field"} {
				if strings.Contains(err.Error(), field) {
					t.Fatalf("error %q names a Go field", err)
				}
			}
		})
	}
	// Several wrong values are all reported at once.
	_, err := loadConfig(vars("DEFAULT_TIMEOUT", "x", "MCP_WAIT_SECONDS", "y"))
	if err == nil || !strings.Contains(err.Error(), "DEFAULT_TIMEOUT") || !strings.Contains(err.Error(), "MCP_WAIT_SECONDS") {
		t.Fatalf("error %v, want both variables named", err)
	}
}

// An empty variable is unset: the default applies.
func TestEmptyVariablesTakeTheDefault(t *testing.T) {
	cfg, err := loadConfig(vars("LISTEN_ADDR", "", "DEFAULT_TIMEOUT", ""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:8787" || cfg.DefaultTimeout != 300 {
		t.Fatalf("defaults not applied: %q %d", cfg.ListenAddr, cfg.DefaultTimeout)
	}
}

// The image limits reach the sessions service and the edge: sizes with or
// without a unit, and an upload budget that must hold one full request.
func TestImageLimitsFromTheEnvironment(t *testing.T) {
	cfg, err := loadConfig(vars())
	if err != nil {
		t.Fatal(err)
	}
	if l := Limits(cfg); l.MaxImages != 4 || l.MaxImageBytes != 5<<20 {
		t.Errorf("default image limits %d × %d", l.MaxImages, l.MaxImageBytes)
	}
	if ec := edgeConfig(cfg, "test"); ec.UploadMemory != 128<<20 {
		t.Errorf("default upload memory %d", ec.UploadMemory)
	}
	for _, tc := range []struct {
		bytes string
		want  int64
	}{{"1048576", 1 << 20}, {"512KiB", 512 << 10}, {"2 MiB", 2 << 20}, {"3mb", 3 << 20}, {"64k", 64 << 10}} {
		cfg, err := loadConfig(vars("IMAGE_MAX_BYTES", tc.bytes, "IMAGE_MAX_COUNT", "2"))
		if err != nil {
			t.Fatalf("IMAGE_MAX_BYTES=%s: %v", tc.bytes, err)
		}
		if l := Limits(cfg); l.MaxImageBytes != tc.want || l.MaxImages != 2 {
			t.Errorf("IMAGE_MAX_BYTES=%s: limits %d × %d, want 2 × %d", tc.bytes, l.MaxImages, l.MaxImageBytes, tc.want)
		}
	}
	for _, tc := range []struct{ env, value, want string }{
		{"IMAGE_MAX_BYTES", "lots", `IMAGE_MAX_BYTES="lots": must be a size`},
		{"IMAGE_MAX_BYTES", "100", "must be between 1KiB and 25MiB"},
		{"IMAGE_MAX_BYTES", "26MiB", "must be between 1KiB and 25MiB"},
		{"IMAGE_MAX_COUNT", "0", "IMAGE_MAX_COUNT=0 must be between 1 and 10"},
		{"IMAGE_MAX_COUNT", "11", "IMAGE_MAX_COUNT=11 must be between 1 and 10"},
		{"UPLOAD_MEMORY", "-1", `UPLOAD_MEMORY="-1": must be a size`},
		{"UPLOAD_MEMORY", "10MiB", "must hold at least one request with every image"},
	} {
		if _, err := loadConfig(vars(tc.env, tc.value)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want one containing %q", tc.env, tc.value, err, tc.want)
		}
	}
}

// RESULT_MAX_WAIT lowers the cap on ?wait= (for proxies that cut idle
// requests sooner, and for tests of clients that wait longer than one poll).
func TestResultMaxWait(t *testing.T) {
	cfg, err := loadConfig(vars())
	if err != nil {
		t.Fatal(err)
	}
	if got := edgeConfig(cfg, "test").MaxWait; got != 60*time.Second {
		t.Errorf("default cap %s, want 60s", got)
	}
	if cfg, err = loadConfig(vars("RESULT_MAX_WAIT", "2")); err != nil {
		t.Fatal(err)
	}
	if got := edgeConfig(cfg, "test").MaxWait; got != 2*time.Second {
		t.Errorf("cap %s, want 2s", got)
	}
	for _, bad := range []string{"0", "61", "-1"} {
		if _, err := loadConfig(vars("RESULT_MAX_WAIT", bad)); err == nil || !strings.Contains(err.Error(), "RESULT_MAX_WAIT") {
			t.Errorf("RESULT_MAX_WAIT=%s: error %v", bad, err)
		}
	}
}
