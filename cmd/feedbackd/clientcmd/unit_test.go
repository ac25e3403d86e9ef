package clientcmd

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"rsc.io/qr"

	"github.com/feedbackd/feedbackd/pkg/client"
)

func TestParseField(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want client.Field
	}{
		{"name:string", client.Field{Name: "name", Type: client.FieldString, Required: true}},
		{"note?:text:Anything else?", client.Field{Name: "note", Type: client.FieldString, Title: "Anything else?"}},
		{"mail:email:E-mail", client.Field{Name: "mail", Type: client.FieldString, Format: client.FormatEmail, Title: "E-mail", Required: true}},
		{"site:url", client.Field{Name: "site", Type: client.FieldString, Format: client.FormatURI, Required: true}},
		{"day:date:Release day: the first", client.Field{Name: "day", Type: client.FieldString, Format: client.FormatDate, Title: "Release day: the first", Required: true}},
		{"at:datetime", client.Field{Name: "at", Type: client.FieldString, Format: client.FormatDateTime, Required: true}},
		{"ratio:number", client.Field{Name: "ratio", Type: client.FieldNumber, Required: true}},
		{"n:integer:Replicas", client.Field{Name: "n", Type: client.FieldInteger, Title: "Replicas", Required: true}},
		{"ok:boolean", client.Field{Name: "ok", Type: client.FieldBoolean, Required: true}},
		{"env:enum=staging|prod", client.Field{Name: "env", Type: client.FieldString, Required: true,
			Choices: []client.Choice{{Value: "staging"}, {Value: "prod"}}}},
		{"teams?:multi= web | db :Teams", client.Field{Name: "teams", Type: client.FieldArray, Title: "Teams",
			Choices: []client.Choice{{Value: "web"}, {Value: "db"}}}},
	} {
		got, err := parseField(tc.spec)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.spec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"name", ":string", "na me:string", "x:colour", "x:enum", "x:enum=a||b", "x:string=a|b", "?:text", "é:text"} {
		if _, err := parseField(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestFlagsMayFollowTheQuestion(t *testing.T) {
	for _, tc := range []struct {
		args, pos, options []string
	}{
		{[]string{"Ship it?", "--option", "Yes", "--option", "No"}, []string{"Ship it?"}, []string{"Yes", "No"}},
		{[]string{"--option", "Yes", "Ship it?", "--option=No"}, []string{"Ship it?"}, []string{"Yes", "No"}},
		{[]string{"--option", "Yes", "--", "--not-a-flag"}, []string{"--not-a-flag"}, []string{"Yes"}},
		{[]string{"a", "b", "--option", "x", "--", "c", "--option", "y"}, []string{"a", "b", "c", "--option", "y"}, []string{"x"}},
	} {
		var opts repeated
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(&opts, "option", "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || !slices.Equal(opts, tc.options) {
			t.Errorf("%q: positional %q options %q (%v)", tc.args, pos, opts, err)
		}
	}
}

// Mistakes are refused before anything is sent, with a message that says
// what to do.
func TestAskRefusesWhatCannotWork(t *testing.T) {
	img := filepath.Join(t.TempDir(), "x.png")
	if err := os.WriteFile(img, []byte("\x89PNG\r\n\x1a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "what should the person be asked"},
		{[]string{"a", "b"}, "one argument"},
		{[]string{"q", "--expect", "Yes"}, "--expect needs --option"},
		{[]string{"q", "--option", "Yes", "--expect", "yes"}, "none of the options"},
		{[]string{"--approval", "Drop", "--expect", "maybe"}, "approve or deny"},
		{[]string{"--approval", "Drop", "--option", "A"}, "takes no --option"},
		{[]string{"q", "--details", "{}"}, "goes with --approval"},
		{[]string{"--approval", "Drop", "--details", "{oops"}, "--details must be JSON"},
		{[]string{"q", "--metadata", "nope"}, "--metadata must be"},
		{[]string{"q", "--timeout", "1.5s"}, "whole seconds"},
		{[]string{"q", "--timeout", "soon"}, "--timeout"},
		{[]string{"q", "--field", "x:colour"}, "unknown type"},
		{[]string{"q", "--image", filepath.Join(t.TempDir(), "missing.png")}, "--image"},
		{[]string{"q", "--bogus"}, "bogus"},
	} {
		var out, errOut bytes.Buffer
		err := Ask(Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, tc.args)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitFailed || !strings.Contains(ee.Msg, tc.want) || !strings.Contains(ee.Msg, "--help") {
			t.Errorf("%q: %v, want exit 1 saying %q", tc.args, err, tc.want)
		}
		if out.Len() > 0 || errOut.Len() > 0 {
			t.Errorf("%q printed %q %q before refusing", tc.args, out.String(), errOut.String())
		}
	}
	for _, args := range [][]string{{"--since", "12abc"}, {"--since", "-1"}, {"extra"}} {
		if err := Watch(Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}, args); err == nil || !strings.Contains(err.Error(), "--help") {
			t.Errorf("watch %q: %v", args, err)
		}
	}
	var out bytes.Buffer
	if err := Ask(Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}, []string{"--help"}); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "--field NAME[?]:TYPE[:TITLE]") {
		t.Errorf("--help: %v %q", err, out.String())
	}
	q, err := (&askFlags{images: repeated{img}, timeout: "600"}).question([]string{"q"})
	if err != nil || len(q.Images) != 1 || q.Images[0].MimeType != "image/png" || q.Images[0].Name != "x.png" || q.Timeout != 10*time.Minute {
		t.Errorf("question %+v %v", q, err)
	}
}

func TestCredentialsComeFromTheirPlaces(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("  file-key \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "api-key"), []byte("generated-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) Env {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return Env{Getenv: func(k string) string { return m[k] }}
	}
	for _, tc := range []struct {
		name string
		cf   connectFlags
		env  Env
		ok   bool
	}{
		{"file", connectFlags{apiKeyFile: keyFile}, env(client.EnvAPIKey, "env-key"), true},
		{"env key", connectFlags{}, env(client.EnvAPIKey, "env-key"), true},
		{"env token", connectFlags{}, env(client.EnvToken, "tok"), true},
		{"both", connectFlags{}, env(client.EnvAPIKey, "k", client.EnvToken, "t"), false},
		{"generated", connectFlags{}, env("DATA_DIR", filepath.Join(dir, "data")), true},
		{"missing file", connectFlags{apiKeyFile: filepath.Join(dir, "nope")}, env(), false},
		{"bad URL", connectFlags{url: "localhost:8787"}, env(), false},
	} {
		_, err := tc.cf.client(tc.env)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if k, err := readKey(keyFile); err != nil || k != "file-key" {
		t.Errorf("key file read as %q %v", k, err)
	}
}

// parseQR reads the half-block text of renderQR back into modules.
func parseQR(t *testing.T, text string) [][]bool {
	t.Helper()
	var rows [][]bool
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "\x1b[30;107m"), "\x1b[0m")
		top, bottom := []bool{}, []bool{}
		for _, r := range line {
			top = append(top, r == '█' || r == '▀')
			bottom = append(bottom, r == '█' || r == '▄')
		}
		rows = append(rows, top, bottom)
	}
	return rows
}

// The terminal QR code holds exactly the modules of the code, and a real
// reader (zbarimg, when installed; CI installs it) reads the link back.
func TestTerminalQRCodeReadsBack(t *testing.T) {
	link := "https://feedback.example.com/feedback/6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10"
	var b bytes.Buffer
	if err := writeQR(&b, link); err != nil {
		t.Fatal(err)
	}
	code, _ := qr.Encode(link, qr.M)
	rows := parseQR(t, b.String())
	for y := -quietZone; y < code.Size+quietZone; y++ {
		for x := -quietZone; x < code.Size+quietZone; x++ {
			if got := rows[y+quietZone][x+quietZone]; got != code.Black(x, y) {
				t.Fatalf("module (%d,%d) is %v on the terminal", x, y, got)
			}
		}
	}
	if w := len([]rune(strings.Split(b.String(), "\n")[0])) - len("\x1b[30;107m\x1b[0m"); w > 80 {
		t.Fatalf("%d columns: too wide for a terminal", w)
	}

	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg is not installed, and CI must read the QR code back: run .ci/deps.sh")
		}
		t.Skip("zbarimg is not installed (.ci/deps.sh installs zbar-tools): the link was not read back")
	}
	// What a phone's camera sees: the terminal's cells as pixels.
	const scale = 6
	img := image.NewGray(image.Rect(0, 0, len(rows[0])*scale, len(rows)*scale))
	for y, row := range rows {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{}
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray(x*scale+dx, y*scale+dy, c)
				}
			}
		}
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pngBytes.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", path).Output()
	if err != nil || strings.TrimSpace(string(out)) != link {
		t.Fatalf("zbarimg read %q (%v), want %q", out, err, link)
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 59 * time.Second: "0:59", 10 * time.Minute: "10:00", 3725 * time.Second: "1:02:05"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%s) = %q, want %q", d, got, want)
		}
	}
}
