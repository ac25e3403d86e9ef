package clientcmd_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

// openPTY opens a pseudo-terminal: the side a terminal emulator reads, and
// the side a program writes as its terminal.
func openPTY(t *testing.T) (term, program *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name the pty: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// On a terminal, ask also draws the QR code of the link and a countdown,
// and clears the countdown when the answer comes.
func TestAskOnATerminalShowsAQRCodeAndACountdown(t *testing.T) {
	t.Parallel()
	term, tty := openPTY(t)
	screen := &syncbuf.Buffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	m, c := server(t)
	p := startIn(t, t.TempDir(), []string{client.EnvURL + "=" + m.URL(), client.EnvAPIKey + "=" + programtest.KeyA}, tty,
		"ask", "On a terminal?", "--timeout", "10m")
	var id string
	programtest.WaitFor(t, 30*time.Second, programtest.Until("the link", func() bool {
		m := linkLine.FindStringSubmatch(screen.String())
		if m != nil {
			id = m[2]
		}
		return m != nil
	}))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("a QR code and the countdown ticking", func() bool {
		s := screen.String()
		return strings.Contains(s, "▀") && strings.Contains(s, "left (Ctrl+C cancels the question)") && strings.Count(s, "Waiting for an answer") >= 2
	}))
	submit(t, c, id, client.Answer{FreeText: "seen it"})
	if code := p.exit(t); code != 0 {
		t.Fatalf("exit %d: %s", code, screen.String())
	}
	if p.stdout.String() != "seen it\n" {
		t.Fatalf("stdout %q", p.stdout.String())
	}
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the countdown line cleared", func() bool {
		return strings.HasSuffix(screen.String(), "\r\x1b[K")
	}))
	if !strings.Contains(screen.String(), "9:5") {
		t.Fatalf("the countdown never showed the minutes left: %q", screen.String())
	}
}
