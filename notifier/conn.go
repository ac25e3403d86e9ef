package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"

	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

// maxBacklog bounds the changes a connection may collect while it catches up
// (reads the current state and sends it); a client that falls further behind
// before it is even live is told to try again.
const maxBacklog = 1024

// catchUpTimeout bounds the reads a new connection makes before it goes live.
const catchUpTimeout = 10 * time.Second

type clientState int

const (
	stateSyncing clientState = iota // changes collect in backlog
	stateLive                       // changes go to the send queue
	stateClosed                     // nothing more is sent but a close frame
)

// client is one WebSocket connection. serve reads, on the goroutine that
// ran serveConn or on one of its own (see serveConn). Data is written by one
// goroutine at a time: serveConn while it catches up, then a writer started
// when there is something to send, which exits once the queue is empty, so
// an idle connection has no goroutine besides its reader. Producers (the
// hub, the reader) only ever append to the bounded queue, under mu, and
// never block. Pings are control frames, which the WebSocket library lets
// any goroutine write: a timer sends them.
type client struct {
	unmetered func() // ends the connection's count in /metrics

	n         *Notifier
	id        string
	kind      string
	sessionID string // set on /ws/{id}
	owner     string // set on /ws, and on /ws/{id} for a principal
	page      bool   // opened with the feedback page's token: status only
	expires   time.Time
	grant     string // the revocable credential that opened it (Revoke), "" for none
	resume    uint64
	resuming  bool
	// ownSocket: fasthttp leaves the socket to the client, which closes it
	// (the app has KeepHijackedConns).
	ownSocket bool
	expiry    *time.Timer // the credential's end; nil when it has none

	ws   *fws.Conn
	dead chan struct{} // closed by kill

	mu      sync.Mutex
	state   clientState
	backlog []*event
	// queue holds the frames waiting for the writer; pending counts them
	// with those the writer has taken but not yet written, against
	// QueueSize.
	queue   [][]byte
	pending int
	// writing is set while a goroutine writes data: serveConn catching up,
	// or the writer. Once the writer has sent the close frame it stays set,
	// so nothing is written after it.
	writing bool
	// writers counts the goroutines that may touch the socket besides the
	// reader (the writer, a ping); serve waits for them before it finishes
	// with the socket.
	writers   sync.WaitGroup
	ping      *time.Timer
	floor     uint64 // on /ws/{id}: revisions up to floor were already sent
	closeCode int    // 0: close the socket without a close frame
	closeText string
	force     *time.Timer
	finished  bool // set by finish: nothing touches the socket any more
}

// connRequest carries what the HTTP handler established before the upgrade.
type connRequest struct {
	sessionID string
	owner     string
	page      bool
	// expires is when the credential runs out (zero: never); the
	// connection is closed then.
	expires  time.Time
	grant    string // auth.Principal.Credential
	kind     string
	resume   uint64
	resuming bool
	// ownSocket is set when the app leaves hijacked connections to their
	// handlers (fasthttp's KeepHijackedConns).
	ownSocket bool
}

const requestKey = "feedbackd.notifier.request"

// serveConn runs one upgraded connection on fasthttp's hijack goroutine: it
// registers the client, catches it up, and then reads until the connection
// ends. When the app leaves hijacked connections to their handlers
// (KeepHijackedConns, which Mount and NewApp set), the reading moves to a
// goroutine of its own and serveConn returns at once: fasthttp then frees
// the request context and the WebSocket library its copy of the request
// (headers, query, locals), which a connection would otherwise keep for its
// whole life, and the reader starts on a small stack, not on the one the
// catch-up grew.
func (n *Notifier) serveConn(wc *websocket.Conn) {
	req, ok := wc.Locals(requestKey).(*connRequest)
	if !ok {
		_ = wc.Conn.Close()
		return
	}
	c := &client{
		n:         n,
		id:        sessions.NewID(),
		kind:      req.kind,
		sessionID: req.sessionID,
		owner:     req.owner,
		page:      req.page,
		expires:   req.expires,
		grant:     req.grant,
		resume:    req.resume,
		resuming:  req.resuming,
		ownSocket: req.ownSocket,
		ws:        wc.Conn,
		dead:      make(chan struct{}),
		writing:   true, // serveConn, until it has caught up
	}
	c.ws.SetReadLimit(n.cfg.ReadLimit)
	if code, reason := n.admit(c); code != 0 {
		c.refuse(code, reason)
		return
	}
	watermark, ok := n.hub.add(c, n.perSessionLimit(c.page))
	if !ok {
		c.refuse(CloseTryAgainLater, "too many connections to this session: try again later")
		n.release(c)
		return
	}
	if !c.expires.IsZero() {
		// A socket must not outlive the credential that opened it.
		c.expiry = time.AfterFunc(time.Until(c.expires), func() { c.kill(CloseCredentialExpired, "credential expired") })
	}

	n.log.Debug("WebSocket open", "client", c.id, "session", redact.ID(c.sessionID), "clientType", c.kind)
	if err := c.catchUp(watermark); err != nil {
		if !c.isClosed() {
			n.log.Warn("WebSocket catch-up failed", "client", c.id, "session", redact.ID(c.sessionID), "err", err)
			c.kill(CloseInternal, "could not read the current state: reconnect")
		}
		// Let the writer send the close frame.
	}
	c.mu.Lock()
	c.writing = false
	c.kickLocked() // the close frame of a kill during the catch-up
	c.ping = time.AfterFunc(n.cfg.PingInterval, c.sendPing)
	c.mu.Unlock()
	if c.ownSocket {
		go c.serve()
		return
	}
	c.serve()
}

// serve reads until the connection ends, then takes the client down: it
// leaves the hub, lets the writer and pings finish, and closes the socket
// when it is the client's own.
func (c *client) serve() {
	n := c.n
	defer n.release(c)
	defer func() {
		c.ping.Stop()
		n.hub.remove(c)
		c.kill(0, "")
		c.writers.Wait()
		if c.expiry != nil {
			c.expiry.Stop()
		}
		c.finish()
		n.log.Debug("WebSocket closed", "client", c.id, "session", redact.ID(c.sessionID))
	}()
	if c.ownSocket {
		// On a goroutine of its own, no library recovers a panic: one
		// connection's must not end the process.
		defer func() {
			if v := recover(); v != nil {
				n.log.Error("WebSocket connection panicked", "client", c.id, "panic", v)
			}
		}()
	}
	c.readLoop()
}

// refuse closes a connection that was never admitted.
func (c *client) refuse(code int, reason string) {
	_ = c.ws.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	// fasthttp closes the socket unless it leaves it to us; closing it
	// here too is then a no-op.
	_ = c.ws.Close()
}

// catchUp sends connection_established, then whatever a resuming client
// missed, then the changes that arrived meanwhile, ordered by revision and
// without duplicates; then it switches the client to live delivery. It
// returns an error only when the current state could not be read.
func (c *client) catchUp(watermark uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
	defer cancel()
	go func() {
		// Shutdown or a slow-client drop cuts the reads short.
		select {
		case <-c.dead:
			cancel()
		case <-ctx.Done():
		}
	}()
	now := c.n.now()
	hello := ConnectionEstablished{ClientID: c.id, ClientType: c.kind, ServerTime: formatTime(now), Revision: watermark}
	var replay []*event
	// sent is the newest version of each session the client has been told
	// about; what was read and what arrived meanwhile may overlap.
	sent := make(map[string]uint64)
	if c.sessionID != "" {
		sess, err := c.n.svc.Get(ctx, c.sessionID)
		if err != nil {
			return fmt.Errorf("read session: %w", err)
		}
		hello.SessionID, hello.Status, hello.ExpiresAt = sess.ID, sess.Status, formatTime(sess.ExpiresAt)
		hello.Revision = sess.Revision
		if c.resuming && sess.Revision > c.resume && sess.Status.Terminal() {
			hello.Revision = c.resume
			replay = append(replay, newEvent(sess, now))
		}
		sent[sess.ID] = sess.Revision
		c.mu.Lock()
		c.floor = sess.Revision
		c.mu.Unlock()
	} else if c.resuming {
		var err error
		if replay, err = c.n.missed(ctx, c.owner, c.resume, now); err != nil {
			return err
		}
		hello.Revision = c.resume
	}
	if err := c.writeNow(encode(TypeConnectionEstablished, hello, now)); err != nil {
		c.writeFailed(err) // the client is gone; nothing to report
		return nil
	}

	// Send each version once, in revision order.
	for _, ev := range replay {
		sent[ev.id] = max(sent[ev.id], ev.rev)
	}
	first := true
	for {
		c.mu.Lock()
		if c.state == stateClosed {
			c.mu.Unlock()
			return nil
		}
		batch := c.backlog
		c.backlog = nil
		if len(batch) == 0 && !first {
			// What catch-up sent is the floor of live delivery too: the
			// feed's copy of a version this process wrote, and already
			// sent from the write, must not go out again.
			if c.sessionID != "" {
				c.floor = max(c.floor, sent[c.sessionID])
			}
			c.state = stateLive
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if first {
			batch, replay = mergeEvents(replay, batch, sent), nil
			first = false
		} else {
			batch = mergeEvents(nil, batch, sent)
		}
		for _, ev := range batch {
			for _, f := range ev.framesFor(c.audience()) {
				if err := c.writeNow(f); err != nil {
					c.writeFailed(err)
					return nil
				}
			}
		}
	}
}

// mergeEvents returns replay and backlog in revision order, leaving out any
// version at or below the one already sent for its session, and records what
// it returns in sent.
func mergeEvents(replay, backlog []*event, sent map[string]uint64) []*event {
	out := make([]*event, 0, len(replay)+len(backlog))
	out = append(out, replay...)
	for _, ev := range backlog {
		if ev.rev > sent[ev.id] {
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b *event) int {
		switch {
		case a.rev < b.rev:
			return -1
		case a.rev > b.rev:
			return 1
		}
		return 0
	})
	out = slices.CompactFunc(out, func(a, b *event) bool { return a.id == b.id && a.rev == b.rev })
	for _, ev := range out {
		if ev.rev > sent[ev.id] {
			sent[ev.id] = ev.rev
		}
	}
	return out
}

// missed returns what a /ws client that last saw revision since has missed:
// the current version of each of the owner's sessions changed after since.
// It waits until the change feed has caught up with what it read, so that
// every change older than the newest one returned is already in the
// client's backlog and can be merged in order.
func (n *Notifier) missed(ctx context.Context, owner string, since uint64, now time.Time) ([]*event, error) {
	var out []*event
	var newest uint64
	seen := 0
	q := sessions.ListQuery{Limit: sessions.MaxListLimit}
	for seen < n.cfg.ResumeLimit {
		page, err := n.svc.List(ctx, owner, q)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		for _, s := range page.Items {
			seen++
			if s.Revision <= since {
				continue
			}
			if s.Status == sessions.StatusExpired && s.FinishedAt == nil {
				// List shows a due session as expired before anyone has
				// written it; Get writes the expiry, so the client gets
				// the real version and not a phantom one.
				if s, err = n.svc.Get(ctx, s.ID); err != nil {
					if sessions.ErrorCode(err) == sessions.CodeNotFound {
						continue
					}
					return nil, fmt.Errorf("expire due session: %w", err)
				}
			}
			out = append(out, newEvent(s, now))
			newest = max(newest, s.Revision)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if err := n.hub.waitFor(ctx, newest); err != nil {
		return nil, err
	}
	return out, nil
}

// writeNow writes one message; only one goroutine writes at a time: the
// catching-up serveConn, then the writer.
func (c *client) writeNow(b []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.n.cfg.WriteWait))
	if err := c.ws.WriteMessage(fws.TextMessage, b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	c.n.sent.Add(1)
	return nil
}

// deliver hands a change to the client. It runs on the feed goroutine and
// never blocks.
func (c *client) deliver(ev *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateSyncing:
		if len(c.backlog) >= maxBacklog {
			c.killLocked(CloseTryAgainLater, "too many changes while connecting: reconnect")
			return
		}
		c.backlog = append(c.backlog, ev)
	case stateLive:
		if c.sessionID != "" {
			if ev.rev <= c.floor {
				return
			}
			c.floor = ev.rev
		}
		c.enqueueLocked(ev.framesFor(c.audience())...)
	}
}

// audience is whom the client's messages are encoded for.
func (c *client) audience() audience {
	if c.page {
		return pageAudience
	}
	return ownerAudience
}

// send queues one message of the connection's own (pong, error).
func (c *client) send(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateLive {
		c.enqueueLocked(b)
	}
}

// enqueueLocked appends frames to the send queue, all or none, and starts
// the writer if none runs. Every producer holds mu, so the room it sees
// cannot shrink before it has sent; a client without room is dropped rather
// than waited for.
func (c *client) enqueueLocked(frames ...[]byte) {
	if c.pending+len(frames) > c.n.cfg.QueueSize {
		c.n.dropped.Add(1)
		metrics.WSDropped()
		c.n.log.Info("dropping slow WebSocket client", "client", c.id, "session", redact.ID(c.sessionID), "queued", c.pending)
		c.killLocked(CloseSlowClient, "send queue full: client too slow")
		return
	}
	c.queue = append(c.queue, frames...)
	c.pending += len(frames)
	c.kickLocked()
}

// kickLocked starts the writer when there is something to write (queued
// frames, or the close of a killed client) and no goroutine writes now.
func (c *client) kickLocked() {
	if c.writing || c.finished || (c.state != stateClosed && len(c.queue) == 0) || c.state == stateSyncing {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.write()
}

// kill ends the connection: the writer sends a close frame with code (none
// when code is 0), and the socket is cut off under it if that stalls.
func (c *client) kill(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killLocked(code, reason)
}

func (c *client) killLocked(code int, reason string) {
	if c.state == stateClosed {
		return
	}
	c.state = stateClosed
	c.backlog = nil
	c.closeCode, c.closeText = code, reason
	close(c.dead)
	c.force = time.AfterFunc(2*closeGrace, c.forceEnd)
	c.kickLocked()
}

// forceEnd cuts off a killed connection whose close handshake stalled: a
// writer blocked on a client that does not read, or a reader waiting for a
// client that does not answer. It repeats until the client is finished,
// because a write that starts after a cut sets a fresh deadline of its own.
func (c *client) forceEnd() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.finished {
		c.cutLocked()
		c.force.Reset(closeGrace)
	}
}

// cutOff makes every blocked and future read and write on the socket fail at
// once. It does not close the socket, which may still be fasthttp's (it
// closes a hijacked connection when serveConn returns, unless the app keeps
// hijacked connections) and is closed only once the client is finished.
func (c *client) cutOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.finished {
		c.cutLocked()
	}
}

func (c *client) cutLocked() { _ = c.ws.NetConn().SetDeadline(time.Unix(1, 0)) }

// finish marks the connection as done with: nothing touches the socket
// after it. The client closes a socket of its own; any other goes back to
// fasthttp, which closes it.
func (c *client) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished = true
	if c.force != nil {
		c.force.Stop()
	}
	if c.ownSocket {
		_ = c.ws.Close()
	}
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateClosed
}

// write is the connection's writer: it writes what is queued until the
// queue is empty, then exits; once the client is killed it sends the close
// frame instead, and nothing more.
func (c *client) write() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		if c.state == stateClosed {
			// writing stays set: nothing is written after the close.
			c.queue, c.pending = nil, 0
			c.mu.Unlock()
			c.sendClose()
			return
		}
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, b := range batch {
			// A killed client gets no more data, however much is queued.
			select {
			case <-c.dead:
			default:
				if err := c.writeNow(b); err != nil {
					c.writeFailed(err)
				}
			}
			c.mu.Lock()
			c.pending--
			c.mu.Unlock()
		}
	}
}

// sendPing pings the client every PingInterval while it is live. Control
// frames may be written alongside the writer.
func (c *client) sendPing() {
	c.mu.Lock()
	if c.state != stateLive || c.finished {
		c.mu.Unlock()
		return
	}
	c.writers.Add(1)
	timer := c.ping
	c.mu.Unlock()
	defer c.writers.Done()
	if err := c.ws.WriteControl(fws.PingMessage, nil, time.Now().Add(c.n.cfg.WriteWait)); err != nil {
		c.writeFailed(err)
		return
	}
	timer.Reset(c.n.cfg.PingInterval)
}

// writeFailed ends a connection whose socket no longer takes writes; cutting
// it off wakes the reader.
func (c *client) writeFailed(err error) {
	c.n.log.Debug("WebSocket write failed", "client", c.id, "err", err)
	c.kill(0, "")
	c.cutOff()
}

// sendClose sends the close frame kill asked for and gives the client
// closeGrace to answer before the reader stops waiting.
func (c *client) sendClose() {
	c.mu.Lock()
	code, text := c.closeCode, c.closeText
	c.mu.Unlock()
	if code == 0 {
		return
	}
	deadline := time.Now().Add(closeGrace)
	if err := c.ws.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(code, text), deadline); err != nil {
		c.cutOff()
		return
	}
	_ = c.ws.SetReadDeadline(deadline)
}

// readLoop reads client messages until the connection ends. Any message or
// pong proves the client alive.
func (c *client) readLoop() {
	alive := func() {
		if !c.isClosed() {
			_ = c.ws.SetReadDeadline(time.Now().Add(c.n.cfg.PongWait))
		}
	}
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *fws.CloseError
			if !errors.As(err, &ce) && !c.isClosed() {
				c.n.log.Debug("WebSocket read ended", "client", c.id, "err", err)
			}
			return
		}
		alive()
		c.handle(typ, data)
	}
}

// clientMessage is what a client may send: {type, data?}.
type clientMessage struct {
	Type *string `json:"type"`
}

// handle answers one client message. Bad input gets an error message; the
// connection stays.
func (c *client) handle(typ int, data []byte) {
	now := c.n.now()
	var m clientMessage
	if typ != fws.TextMessage {
		c.send(encode(TypeError, ErrorData{Code: CodeMessageParse, Message: "send JSON text messages, not binary"}, now))
		return
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Type == nil {
		c.send(encode(TypeError, ErrorData{Code: CodeMessageParse, Message: "message must be a JSON object with a string \"type\""}, now))
		return
	}
	switch *m.Type {
	case TypePing:
		c.send(encode(TypePong, Pong{Timestamp: formatTime(now)}, now))
	case TypePong:
		// A client answering an application-level ping; nothing to do.
	default:
		c.send(encode(TypeError, ErrorData{Code: CodeUnknownType, Message: fmt.Sprintf("unknown message type %q; clients may send \"ping\"", *m.Type)}, now))
	}
}
