package clientcmd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
	"rsc.io/qr"
)

// isTerminal reports whether w is a terminal: only then does ask draw a QR
// code and a countdown, so CI logs stay quiet.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeQR draws text as a QR code with half-block characters, two modules
// per character cell, dark on an explicitly light background (and a quiet
// zone around it) so that phones read it on dark and light terminals alike.
func writeQR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("encode QR code: %w", err)
	}
	_, err = io.WriteString(w, renderQR(code.Size, code.Black))
	return err
}

// quietZone is the light border a reader needs around the code, in modules.
const quietZone = 2

// renderQR renders a size×size grid of modules, dark(x, y) telling which are
// dark: each line of text holds two rows of modules.
func renderQR(size int, dark func(x, y int) bool) string {
	isDark := func(x, y int) bool {
		if x < 0 || y < 0 || x >= size || y >= size {
			return false
		}
		return dark(x, y)
	}
	var b strings.Builder
	const on, off = "\x1b[30;107m", "\x1b[0m" // black on bright white
	for y := -quietZone; y < size+quietZone; y += 2 {
		b.WriteString(on)
		for x := -quietZone; x < size+quietZone; x++ {
			top, bottom := isDark(x, y), isDark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString(off)
		b.WriteByte('\n')
	}
	return b.String()
}

// countdown redraws one line of stderr every second until stopped: how long
// the question stays open.
type countdown struct {
	w     io.Writer
	until time.Time
	stop  chan struct{}
	done  sync.WaitGroup
}

func startCountdown(w io.Writer, until time.Time) *countdown {
	c := &countdown{w: w, until: until, stop: make(chan struct{})}
	c.done.Go(c.run)
	return c
}

func (c *countdown) run() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		left := max(time.Until(c.until), 0).Round(time.Second)
		fmt.Fprintf(c.w, "\r\x1b[K  Waiting for an answer: %s left (Ctrl+C cancels the question)", clock(left))
		select {
		case <-t.C:
		case <-c.stop:
			fmt.Fprint(c.w, "\r\x1b[K")
			return
		}
	}
}

// Stop clears the line and returns once the countdown has stopped writing.
func (c *countdown) Stop() {
	if c == nil {
		return
	}
	close(c.stop)
	c.done.Wait()
}

// clock writes d as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
