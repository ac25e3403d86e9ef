package mcp

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// streamWriter is the http.ResponseWriter mcp-go writes to, in front of the
// one pkg/httpbridge provides. The bridge ends the request's context when a
// write fails, which ends the MCP stream, its session and every wait started
// through it; but a write must happen for that. So:
//
//   - on the response to a Streamable HTTP POST it writes SSE comments while
//     the handler is silent (a tool waiting for a person), so that a write
//     happens, and fails, even when nothing else is sent. mcp-go answers a
//     quiet request with a single JSON body; when keep-alives already turned
//     the response into an event stream, that body is sent as its one SSE
//     message event instead, as the Streamable HTTP transport allows.
//
// Access-Control-* headers set by mcp-go are dropped: CORS is the edge's.
type streamWriter struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	flush  func()
	header http.Header // what mcp-go sees; copied to w when headers are sent

	wroteHeader bool // mcp-go chose its status
	sentHeader  bool // the status and headers went to w
	eventStream bool // the response on the wire is text/event-stream
	opened      bool // keep-alives opened the event stream before mcp-go answered
	asEvent     bool // mcp-go answered after opened: collect the body, send it as an event if JSON
	answerType  string
	body        bytes.Buffer
	quiet       bool // nothing written since the last keep-alive tick
	bodyStarted bool
	failed      bool
	finished    bool
	code        int // the status mcp-go chose
	stop        chan struct{}
	stopped     chan struct{}
	finishOnce  sync.Once
	// onWrite, when set, sees every write of mcp-go's that reaches the
	// client.
	onWrite func([]byte)
}

func newStreamWriter(w http.ResponseWriter) *streamWriter {
	sw := &streamWriter{w: w, header: make(http.Header), flush: func() {}, quiet: true}
	if f, ok := w.(http.Flusher); ok {
		sw.flush = f.Flush
	}
	return sw
}

// keepAlive writes an SSE comment every interval in which nothing else was
// written, until finish.
func (sw *streamWriter) keepAlive(interval time.Duration) {
	sw.stop, sw.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sw.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-sw.stop:
				return
			case <-t.C:
				sw.tick()
			}
		}
	}()
}

func (sw *streamWriter) tick() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.failed || sw.finished {
		return
	}
	if !sw.quiet {
		sw.quiet = true
		return
	}
	switch {
	case !sw.wroteHeader && !sw.sentHeader:
		sw.openLocked()
	case !sw.eventStream:
		return // a plain JSON response is being written; it ends soon
	}
	sw.write([]byte(": keep-alive\n\n"))
	sw.flushLocked()
}

// openLocked turns the response into an event stream before mcp-go has
// answered: 200, text/event-stream, and whatever mcp-go answers later
// continues it (writeHeaderLocked).
func (sw *streamWriter) openLocked() {
	h := sw.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	sw.w.WriteHeader(http.StatusOK)
	sw.sentHeader, sw.eventStream, sw.opened = true, true, true
}

// messageEvent frames one JSON-RPC message as an SSE message event.
func messageEvent(data []byte) []byte {
	msg := make([]byte, 0, len(data)+24)
	return append(append(append(msg, "event: message\ndata: "...), data...), "\n\n"...)
}

// errStreamClosed means a server message could not be written on a
// response: it has ended, or it is a plain JSON answer.
var errStreamClosed = errors.New("the response stream has closed")

// event writes one SSE message event, a JSON-RPC message the server sends
// on its own (elicitation/create, a notification), on the response to a
// Streamable HTTP POST, opening the event stream first if mcp-go has not
// answered yet. Each event is one write, so it never interleaves with
// mcp-go's own.
func (sw *streamWriter) event(data []byte) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.failed || sw.finished {
		return errStreamClosed
	}
	switch {
	case !sw.wroteHeader && !sw.sentHeader:
		sw.openLocked()
	case sw.asEvent || !sw.eventStream:
		return errStreamClosed // mcp-go has answered: the call is over
	}
	if err := sw.write(messageEvent(data)); err != nil {
		return err
	}
	sw.flushLocked()
	return nil
}

// Header implements http.ResponseWriter.
func (sw *streamWriter) Header() http.Header { return sw.header }

// WriteHeader implements http.ResponseWriter.
func (sw *streamWriter) WriteHeader(code int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.writeHeaderLocked(code)
}

func (sw *streamWriter) writeHeaderLocked(code int) {
	if sw.wroteHeader {
		return
	}
	sw.wroteHeader, sw.code = true, code
	streaming := isEventStream(sw.header.Get("Content-Type"))
	if sw.opened {
		// The wire already carries 200 and an event stream. An event stream
		// from mcp-go continues it; a JSON answer becomes its last event.
		sw.asEvent, sw.answerType = !streaming, sw.header.Get("Content-Type")
		return
	}
	h := sw.w.Header()
	for k, v := range sw.header {
		if strings.HasPrefix(k, "Access-Control-") {
			continue
		}
		h[k] = v
	}
	sw.w.WriteHeader(code)
	sw.sentHeader, sw.eventStream = true, streaming
}

// Write implements http.ResponseWriter.
func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.writeHeaderLocked(http.StatusOK)
	if sw.asEvent {
		return sw.body.Write(p)
	}
	if err := sw.write(p); err != nil {
		return 0, err
	}
	if sw.onWrite != nil {
		sw.onWrite(p)
	}
	return len(p), nil
}

// status is the status mcp-go answered with; 0 before it chose one.
func (sw *streamWriter) status() int {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.code
}

func (sw *streamWriter) write(p []byte) error {
	if sw.failed {
		return context.Canceled
	}
	sw.quiet, sw.bodyStarted = false, true
	if _, err := sw.w.Write(p); err != nil {
		sw.failed = true // the bridge has ended the request's context
		return err
	}
	return nil
}

// Flush implements http.Flusher, which mcp-go requires to stream.
func (sw *streamWriter) Flush() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if !sw.asEvent {
		sw.flushLocked()
	}
}

func (sw *streamWriter) flushLocked() {
	if !sw.sentHeader || sw.failed {
		return
	}
	if sw.eventStream && !sw.bodyStarted {
		// fasthttp sends a streamed response's headers with its first body
		// bytes; an event stream that starts quiet (the Streamable HTTP GET)
		// would otherwise look unanswered until its first heartbeat.
		if sw.write([]byte(": stream open\n\n")) != nil {
			return
		}
	}
	sw.flush()
}

// finish stops keep-alives and sends a collected JSON answer as an event.
// The handler has returned; nothing writes after this. Calls after the
// first do nothing.
func (sw *streamWriter) finish() { sw.finishOnce.Do(sw.finishNow) }

func (sw *streamWriter) finishNow() {
	if sw.stop != nil {
		close(sw.stop)
		<-sw.stopped
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.finished = true
	if mt, _, _ := mime.ParseMediaType(sw.answerType); sw.asEvent && mt == "application/json" && sw.body.Len() > 0 {
		_ = sw.write(messageEvent(bytes.TrimSpace(sw.body.Bytes())))
		sw.flushLocked()
	}
}

func isEventStream(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/event-stream"
}
