package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fasthttp/websocket"
)

// EventType is the type of a WebSocket message (docs/notifier.md,
// "Messages").
type EventType string

// The message types a stream yields. A session leaves pending once, so it
// yields at most: StatusChanged then Submitted (answered), StatusChanged then
// Expired (expired), StatusChanged alone (cancelled).
const (
	// EventConnected starts every connection, reconnections included; on a
	// Subscribe stream it carries the session's current Status.
	EventConnected EventType = "connection_established"
	// EventCreated tells a Watch stream of a new session (with its Message).
	EventCreated EventType = "session_created"
	// EventStatusChanged is the one transition out of pending; Status is the
	// new status.
	EventStatusChanged EventType = "session_status_changed"
	// EventSubmitted follows a change to completed, with a Preview of the
	// answer.
	EventSubmitted EventType = "feedback_submitted"
	// EventExpired follows a change to expired.
	EventExpired EventType = "session_expired"
)

// Event is one message of a stream. Fields a message does not carry are
// zero; Raw is the message as the server sent it.
type Event struct {
	Type      EventType
	SessionID string
	// Revision is the version of the session the message describes (for
	// EventConnected, the point from which the connection misses nothing).
	Revision uint64
	// Status is the session's status as of this message: the current one
	// on EventConnected (Subscribe), pending on EventCreated, the new one on
	// EventStatusChanged, completed and expired on EventSubmitted and
	// EventExpired. OldStatus is set on EventStatusChanged.
	Status, OldStatus Status
	// Message and Title describe the question (EventCreated, and later
	// events when the server includes them).
	Message, Title string
	// Preview is the start of the answer (EventSubmitted).
	Preview string
	// Reason is why a session expired (EventExpired: "timeout"), or why it
	// was cancelled (EventStatusChanged to cancelled, when the cancel said
	// why; streams opened with the owner's credentials only).
	Reason string
	// CreatedAt and ExpiresAt are the session's times, when the message
	// carries them.
	CreatedAt, ExpiresAt time.Time
	// At is when the session changed; Sent when the message was sent.
	At, Sent time.Time
	// Raw is the message's JSON.
	Raw json.RawMessage
}

// StreamOption configures Subscribe and Watch.
type StreamOption func(*streamConfig)

type streamConfig struct {
	from         *uint64
	onDisconnect func(err error, retryIn time.Duration)
}

// FromRevision makes Watch first replay what changed after revision rev (the
// largest Revision a previous stream yielded; 0 replays every session still
// stored), instead of starting with what happens next.
func FromRevision(rev uint64) StreamOption {
	return func(c *streamConfig) { c.from = &rev }
}

// OnDisconnect calls f whenever the connection drops and the stream is about
// to reconnect, with why and how long it waits first: for a log line or a
// status display. f must not block.
func OnDisconnect(f func(err error, retryIn time.Duration)) StreamOption {
	return func(c *streamConfig) { c.onDisconnect = f }
}

// Subscribe follows one session over the WebSocket (/ws/{id}) until it ends:
// it yields EventConnected, then the session's transition, and stops after
// the transition's last message, even if the session had already ended
// when Subscribe was called. A dropped connection is reopened with backoff
// and resumed by revision (any notifier replica will do), so the final event
// is never missed and never yielded twice. It stops with an error on ctx's
// end or a refusal that retrying cannot cure (ErrNotFound, ErrUnauthorized,
// ErrInvalid, ...), yielded as the last pair.
func (c *Client) Subscribe(ctx context.Context, sessionID string, opts ...StreamOption) iter.Seq2[Event, error] {
	if err := checkSegment("session id", sessionID); err != nil {
		return func(yield func(Event, error) bool) { yield(Event{}, err) }
	}
	st := c.newStream("/ws/"+sessionID, opts)
	// Always resume: from revision 0 the server replays the transition of a
	// session that has already ended.
	st.resume, st.resuming = 0, true
	st.single = true
	return st.run(ctx)
}

// Watch follows every session of the caller over the WebSocket (/ws),
// including ones created later, until ctx ends: EventCreated for a new
// session, then its transition. Like Subscribe it reconnects with backoff and
// resumes by revision, yielding each message once; with FromRevision it
// first replays what was missed before. It yields an error and stops on ctx's
// end or a refusal that retrying cannot cure.
func (c *Client) Watch(ctx context.Context, opts ...StreamOption) iter.Seq2[Event, error] {
	st := c.newStream("/ws", opts)
	if st.cfg.from != nil {
		st.resume, st.resuming = *st.cfg.from, true
	}
	return st.run(ctx)
}

// stream is the state of one Subscribe or Watch: where to resume, and what
// was already yielded.
type stream struct {
	c    *Client
	path string
	cfg  streamConfig

	single   bool // Subscribe: stop after the session's transition
	resume   uint64
	resuming bool
	// seen are the messages yielded lately, to drop replays.
	seen recentKeys
	// extra headers for the handshake (tests send an Origin).
	extra http.Header
}

func (c *Client) newStream(path string, opts []StreamOption) *stream {
	st := &stream{c: c, path: path, seen: newRecentKeys(1024)}
	for _, o := range opts {
		o(&st.cfg)
	}
	return st
}

// Stream timing: the server pings every 25 s by default, so a connection
// silent for readTimeout is dead.
const (
	readTimeout      = 90 * time.Second
	handshakeTimeout = 30 * time.Second
	maxBackoff       = 10 * time.Second
)

func (st *stream) run(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		failures := 0
		for {
			conn, err := st.dial(ctx)
			if err == nil {
				var done, ok bool
				done, ok, err = st.read(ctx, conn, yield, &failures)
				if done || !ok {
					return
				}
			}
			if ctx.Err() != nil {
				yield(Event{}, fmt.Errorf("stream %s: %w", st.path, context.Cause(ctx)))
				return
			}
			if !retryable(err) {
				yield(Event{}, err)
				return
			}
			delay := streamDelay(failures, err)
			failures++
			if st.cfg.onDisconnect != nil {
				st.cfg.onDisconnect(err, delay)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				yield(Event{}, fmt.Errorf("stream %s: %w", st.path, context.Cause(ctx)))
				return
			}
		}
	}
}

// retryable reports whether reconnecting may cure err: everything but a
// refusal of the request itself.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.transient() || ae.Code == CodeInternal
	}
	return true
}

// streamDelay is the wait before reconnection number failures+1: what
// Retry-After said, else 250 ms doubling to 10 s, with jitter.
func streamDelay(failures int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter
	}
	d := min(250*time.Millisecond<<min(failures, 6), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// dial opens the WebSocket, resuming from st.resume.
func (st *stream) dial(ctx context.Context) (*websocket.Conn, error) {
	u := *st.c.wsBase
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path += st.path
	q := url.Values{"clientType": {"app"}}
	if st.resuming {
		q.Set("revision", strconv.FormatUint(st.resume, 10))
	}
	u.RawQuery = q.Encode()
	h := st.extra.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("User-Agent", st.c.userAgent)
	st.c.authorize(h)
	conn, resp, err := st.c.dialer().DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			if resp.StatusCode != http.StatusSwitchingProtocols {
				return nil, decodeError(resp.StatusCode, resp.Header, b)
			}
		}
		return nil, fmt.Errorf("connect %s: %w", u.Redacted(), err)
	}
	return conn, nil
}

// dialer is a WebSocket dialer that shares the HTTP client's TLS, proxy and
// dialing settings when it has them.
func (c *Client) dialer() *websocket.Dialer {
	d := &websocket.Dialer{HandshakeTimeout: handshakeTimeout, Proxy: http.ProxyFromEnvironment}
	if t, ok := c.hc.Transport.(*http.Transport); ok {
		d.Proxy = t.Proxy
		d.TLSClientConfig = t.TLSClientConfig
		d.NetDialContext = t.DialContext
	}
	return d
}

// wireMessage is every message of the protocol, data's fields merged.
type wireMessage struct {
	Type      EventType `json:"type"`
	Timestamp string    `json:"timestamp"`
	Data      struct {
		SessionID string `json:"sessionId"`
		Status    Status `json:"status"`
		OldStatus Status `json:"oldStatus"`
		NewStatus Status `json:"newStatus"`
		Message   string `json:"message"`
		Title     string `json:"title"`
		Preview   string `json:"preview"`
		Reason    string `json:"reason"`
		Cancel    string `json:"cancelReason"`
		CreatedAt string `json:"createdAt"`
		ExpiresAt string `json:"expiresAt"`
		Timestamp string `json:"timestamp"`
		Revision  uint64 `json:"revision"`
	} `json:"data"`
}

// parseEvent reads one text frame.
func parseEvent(b []byte) (Event, error) {
	var m wireMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Event{}, fmt.Errorf("read stream message: %w", err)
	}
	d := m.Data
	ev := Event{
		Type: m.Type, SessionID: d.SessionID, Revision: d.Revision,
		Status: d.Status, OldStatus: d.OldStatus, Message: d.Message, Title: d.Title,
		Preview: d.Preview, Reason: d.Reason,
		CreatedAt: parseTime(d.CreatedAt), ExpiresAt: parseTime(d.ExpiresAt),
		At: parseTime(d.Timestamp), Sent: parseTime(m.Timestamp),
		Raw: append(json.RawMessage(nil), b...),
	}
	switch m.Type {
	case EventStatusChanged:
		ev.Status = d.NewStatus
		if ev.Status == StatusCancelled {
			ev.Reason = d.Cancel
		}
	case EventSubmitted:
		ev.Status = StatusCompleted
	case EventExpired:
		ev.Status = StatusExpired
	case EventCreated:
		if ev.Status == "" {
			ev.Status = StatusPending
		}
	}
	return ev, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// read yields the messages of one connection. It returns done when a
// Subscribe stream has yielded its session's end, ok false when the
// consumer stopped, and otherwise why the connection ended.
func (st *stream) read(ctx context.Context, conn *websocket.Conn, yield func(Event, error) bool, failures *int) (done, ok bool, err error) {
	stop := make(chan struct{})
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		select {
		case <-ctx.Done():
		case <-stop:
		}
		_ = conn.Close()
	}()
	defer func() {
		close(stop)
		<-closed
	}()
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		typ, b, err := conn.ReadMessage()
		if err != nil {
			return false, true, fmt.Errorf("read %s: %w", st.path, err)
		}
		if typ != websocket.TextMessage {
			continue
		}
		ev, err := parseEvent(b)
		if err != nil {
			return false, true, err
		}
		deliver, finished := st.accept(ev)
		if ev.Type == EventConnected {
			*failures = 0
		}
		if deliver && !yield(ev, nil) {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return false, false, nil
		}
		if finished {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return true, true, nil
		}
	}
}

// accept records ev and says whether to yield it (not a replay of one
// already yielded, not a pong) and whether a Subscribe stream is done.
func (st *stream) accept(ev Event) (deliver, finished bool) {
	switch ev.Type {
	case "pong", "error", "":
		return false, false
	case EventConnected:
		// The server's word on where this connection is complete from.
		st.resume, st.resuming = ev.Revision, true
		return true, false
	}
	key := string(ev.Type) + " " + ev.SessionID + " " + strconv.FormatUint(ev.Revision, 10)
	deliver = st.seen.add(key)
	// Resume past a revision only once its transition is whole: a
	// connection lost between a status change and the message that follows
	// it resumes before the change, and the replayed change is dropped as a
	// duplicate. (A transition's messages are sent back to back, so a later
	// whole one means no more is coming for an earlier one.)
	complete := false
	switch ev.Type {
	case EventCreated, EventSubmitted, EventExpired:
		complete = true
	case EventStatusChanged:
		complete = ev.Status == StatusCancelled
	}
	if !complete {
		return deliver, false
	}
	st.resume = max(st.resume, ev.Revision)
	return deliver, st.single && ev.Status.Final()
}

// recentKeys remembers the last n keys it was given.
type recentKeys struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentKeys(n int) recentKeys {
	return recentKeys{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add reports whether k is new, and remembers it.
func (r *recentKeys) add(k string) bool {
	if _, ok := r.set[k]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.next = (r.next + 1) % len(r.ring)
	r.set[k] = struct{}{}
	return true
}
