package dispatch

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/feedbackd/feedbackd/sessions/channels"
)

// job is one event for one destination, as stored on Stream. It names the
// destination instead of carrying it, so secrets never enter the stream
// and a destination changed or removed meanwhile is read as it is now.
type job struct {
	ID    string         `json:"id"`
	Event channels.Event `json:"event"`
	Kind  channels.Kind  `json:"channel"`
	Owner string         `json:"owner"`
	// Dest is the destination's id within the owner's channels of Kind.
	Dest string `json:"destination"`
	// Session is the record version the job was made from; every attempt
	// sends the same content.
	Session json.RawMessage `json:"session"`
}

// destKey makes (owner, kind, destination) a fixed-length subject token.
func destKey(owner string, kind channels.Kind, dest string) string {
	sum := sha256.Sum256([]byte(owner + "\x00" + string(kind) + "\x00" + dest))
	return hex.EncodeToString(sum[:16])
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// jobID is the stable id of the event for the destination: the same
// however often the feed delivers the record, and on every attempt.
func jobID(owner string, kind channels.Kind, dest, sessionID string, e channels.Event) string {
	sum := sha256.Sum256([]byte("feedbackd delivery\x00" + owner + "\x00" + string(kind) + "\x00" + dest + "\x00" + sessionID + "\x00" + string(e)))
	return "msg_" + strings.ToLower(idEncoding.EncodeToString(sum[:20]))
}

// eventToken is the event as a subject or key token.
func eventToken(e channels.Event) string { return strings.TrimPrefix(string(e), "session.") }

// jobSubject is where the job of event e for (destination, session) waits;
// it holds one message at most.
func jobSubject(dk, sessionID string, e channels.Event) string {
	return deliveryPrefix + dk + "." + sessionID + "." + eventToken(e)
}

// recordKey is the key of a finished delivery in RecordsBucket.
func recordKey(dk, sessionID string, e channels.Event) string {
	return recordPrefix + dk + "." + sessionID + "." + eventToken(e)
}
