package mcp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// The MCP App of a waiting tool call must find that call's session while the
// call still waits: all it has are the call's arguments, which the host sends
// it (ui/notifications/tool-input) while the call goes to the server. So a
// session created for an MCP Apps host keeps a digest of its call's
// arguments (sessions.Session.CallRef), and read_feedback_for_app looks the
// caller's sessions up by the digest of the arguments the app sends back.
//
// The two encodings differ: the host's JavaScript re-encodes what the model
// wrote (key order, number spelling), and the app sends each image's base64
// data as its length, to spare the host megabytes it already sent. The digest
// is therefore taken over a canonical form: object keys sorted, numbers as
// the float64 they denote, images[i].data as its length, and waitSeconds left
// out (it shapes the call, not the question).

// appRefPrefix names the digest's scheme, so that a later one can differ.
const appRefPrefix = "args1:"

// errNotObject refuses arguments that are not a JSON object.
var errNotObject = errors.New("arguments are not a JSON object")

// appRef is the digest of a tool call's arguments.
func appRef(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if dec.More() {
		return "", errors.New("arguments are followed by more JSON")
	}
	args, ok := v.(map[string]any)
	if !ok {
		return "", errNotObject
	}
	delete(args, "waitSeconds")
	if images, ok := args["images"].([]any); ok {
		for _, img := range images {
			if m, ok := img.(map[string]any); ok {
				if data, ok := m["data"].(string); ok {
					m["data"] = json.Number(strconv.Itoa(len(data)))
				}
			}
		}
	}
	var b bytes.Buffer
	writeCanonical(&b, args)
	sum := sha256.Sum256(b.Bytes())
	return appRefPrefix + hex.EncodeToString(sum[:]), nil
}

// writeCanonical writes v, as decoded with UseNumber, in one spelling.
func writeCanonical(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeCanonical(b, v[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		if f, err := v.Float64(); err == nil {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			// Beyond float64: JavaScript cannot have re-encoded it either.
			b.WriteString(v.String())
		}
	case string:
		writeString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	default: // nil
		b.WriteString("null")
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}
