package natskv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaderGetTimeout bounds one read from the stream leader. A read takes
// well under a millisecond and a leader election answers at once with an
// error, so only a lost request waits this long.
const leaderGetTimeout = 2 * time.Second

// leaderGet reads the latest message of subject from the stream leader
// (the STREAM.MSG.GET API) instead of a direct get. A direct get may be
// answered by any replica, including one that has not yet applied a write
// another edge just made: in a replicated bucket that turns a session created
// a millisecond ago into a 404, and an answered one back into pending.
func leaderGet(ctx context.Context, nc *nats.Conn, stream, subject string) (data []byte, seq uint64, deleted bool, err error) {
	// The caller's context may have no deadline (an HTTP request's), and a
	// request sent on a connection that dies before the reply (a NATS node
	// killed) gets no answer at all: bound each read, so that the service
	// sends it again (sessions.WithStorageRetry) instead of waiting for ever.
	ctx, cancel := context.WithTimeout(ctx, leaderGetTimeout)
	defer cancel()
	req, _ := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{subject})
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return nil, 0, false, fmt.Errorf("get %s from the stream leader: %w", subject, err)
	}
	var resp struct {
		Message *struct {
			Sequence uint64 `json:"seq"`
			Header   []byte `json:"hdrs"`
			Data     []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, false, fmt.Errorf("decode stream message: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, 0, true, nil
		}
		return nil, 0, false, fmt.Errorf("get %s from the stream leader: %w", subject, resp.Error)
	}
	if resp.Message == nil {
		return nil, 0, false, jetstream.ErrInvalidJetStreamResponse
	}
	if len(resp.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Header)
		if err != nil {
			return nil, 0, false, fmt.Errorf("decode stream message headers: %w", err)
		}
		// A delete, a purge, or the marker NATS leaves when a TTL runs out.
		if h.Get("KV-Operation") != "" || h.Get(jetstream.MarkerReasonHeader) != "" {
			return nil, resp.Message.Sequence, true, nil
		}
	}
	return resp.Message.Data, resp.Message.Sequence, false, nil
}
