package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docs parses every YAML document in a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func TestEveryYAMLFileParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "run" {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			if len(docs(t, p)) == 0 {
				t.Errorf("%s holds no document", p)
			}
			n++
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walked %d YAML files: %v", n, err)
	}
}

// The roles each topology runs, and the ports they listen on, must agree.
var wantRoles = []string{"edge", "notifier", "expirer", "dispatcher"}

func TestKubernetesManifests(t *testing.T) {
	byKind := map[string][]map[string]any{}
	for _, d := range docs(t, "k8s/feedbackd.yaml") {
		kind, _ := d["kind"].(string)
		byKind[kind] = append(byKind[kind], d)
		if get(d, "metadata", "name") == nil {
			t.Errorf("%s without a name", kind)
		}
	}
	var roles []string
	for _, dep := range byKind["Deployment"] {
		spec := get(dep, "spec", "template", "spec").(map[string]any)
		c := spec["containers"].([]any)[0].(map[string]any)
		args := c["args"].([]any)
		role := args[0].(string)
		roles = append(roles, role)
		if r, _ := get(dep, "spec", "replicas").(int); r < 2 {
			t.Errorf("%s: %d replicas; every role runs at least two", role, r)
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			if c[probe] == nil {
				t.Errorf("%s: no %s", role, probe)
			}
		}
		if get(spec, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%s: must run as non-root", role)
		}
		if get(dep, "spec", "selector", "matchLabels", "app.kubernetes.io/component") != role {
			t.Errorf("%s: selector does not match the role", role)
		}
		// The edges serve the channel settings and Telegram's webhook; the
		// dispatchers deliver: both read the operator's channels.
		if role == "edge" || role == "dispatcher" {
			found := false
			for _, ef := range c["envFrom"].([]any) {
				found = found || get(ef, "secretRef", "name") == "feedbackd-notify"
			}
			if !found {
				t.Errorf("%s: does not read the feedbackd-notify Secret", role)
			}
		}
	}
	slices.Sort(roles)
	want := slices.Clone(wantRoles)
	slices.Sort(want)
	if !slices.Equal(roles, want) {
		t.Fatalf("deployments run %v, want %v", roles, want)
	}
	if len(byKind["Service"]) != len(wantRoles) || len(byKind["Ingress"]) != 1 {
		t.Fatalf("services %d, ingresses %d", len(byKind["Service"]), len(byKind["Ingress"]))
	}
	ann := get(byKind["Ingress"][0], "metadata", "annotations").(map[string]any)
	for k, v := range map[string]string{
		"nginx.ingress.kubernetes.io/proxy-buffering":    "off",
		"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
	} {
		if ann[k] != v {
			t.Errorf("ingress %s = %v, want %s (SSE and WebSocket need it)", k, ann[k], v)
		}
	}
	cm := byKind["ConfigMap"][0]["data"].(map[string]any)
	if cm["KV_REPLICAS"] != "3" || !strings.HasPrefix(cm["NATS_URL"].(string), "nats://") {
		t.Errorf("configmap: %v", cm)
	}
	nv := docs(t, "k8s/nats-values.yaml")[0]
	if get(nv, "config", "cluster", "replicas") != 3 || get(nv, "config", "jetstream", "enabled") != true {
		t.Errorf("NATS values must run a 3-node JetStream cluster: %v", nv)
	}
}

func TestComposeMatchesTheLocalCluster(t *testing.T) {
	c := docs(t, "docker-compose.yml")[0]
	services := c["services"].(map[string]any)
	for _, role := range wantRoles {
		s, ok := services[role].(map[string]any)
		if !ok {
			t.Fatalf("compose has no %s service", role)
		}
		if cmd := s["command"].([]any); cmd[0] != role {
			t.Errorf("%s runs %v", role, cmd)
		}
		if r := get(s, "deploy", "replicas"); r != 2 {
			t.Errorf("%s replicas %v, want 2 as in cluster.sh", role, r)
		}
	}
	natsN := 0
	for name := range services {
		if strings.HasPrefix(name, "nats-") {
			natsN++
		}
	}
	if natsN != 3 {
		t.Errorf("compose runs %d NATS nodes, want 3", natsN)
	}
	script, err := os.ReadFile("local/cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ALL="([^"]+)"`).FindSubmatch(script)
	if m == nil {
		t.Fatal("cluster.sh has no ALL= line")
	}
	counts := map[string]int{}
	for _, n := range strings.Fields(string(m[1])) {
		counts[n[:strings.LastIndex(n, "-")]]++
	}
	if counts["nats"] != 3 || counts["edge"] != 2 || counts["notifier"] != 2 || counts["expirer"] != 2 || counts["dispatcher"] != 2 {
		t.Errorf("cluster.sh runs %v; compose runs 3 NATS and 2 of each role", counts)
	}
	for _, conf := range []string{"nginx/compose.conf"} {
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"proxy_buffering off", "proxy_read_timeout 1h", "Upgrade $http_upgrade"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s lacks %q", conf, want)
			}
		}
	}
}

func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "USER nonroot", "AS build", "./cmd/feedbackd"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
