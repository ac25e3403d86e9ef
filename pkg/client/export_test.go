package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Raw sends a request the public methods never send (a wrong method, a
// plain GET of a WebSocket route), so that tests can see the server's
// answer to it decoded as every answer is.
func (c *Client) Raw(ctx context.Context, method, path string, header http.Header, body []byte) error {
	cl := call{method: method, path: path}
	if body != nil {
		cl.body = json.RawMessage(body)
	}
	if len(header) > 0 {
		return c.onceWithHeader(ctx, cl, header)
	}
	return c.once(ctx, cl, nil)
}

// onceWithHeader dials path as a WebSocket with extra headers (an Origin,
// say) and returns the refusal as the streams decode it.
func (c *Client) onceWithHeader(ctx context.Context, cl call, header http.Header) error {
	st := c.newStream(cl.path, nil)
	st.extra = header
	conn, err := st.dial(ctx)
	if conn != nil {
		conn.Close()
	}
	return err
}

// LongPoll is the long poll the client has settled on.
func (c *Client) LongPoll() int64 { return c.longPoll.Load() }
