package client

import "testing"

// Decoding one WebSocket message and deciding whether to yield it.
func BenchmarkParseAndAcceptEvent(b *testing.B) {
	frame := []byte(`{"type":"feedback_submitted","data":{"sessionId":"6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10","submittedBy":"user","timestamp":"2026-11-22T04:41:33.120Z","preview":"yes\n\nlooks good","revision":57},"timestamp":"2026-11-22T04:41:33.124Z"}`)
	st := (&Client{}).newStream("/ws", nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev, err := parseEvent(frame)
		if err != nil {
			b.Fatal(err)
		}
		ev.Revision = uint64(i)
		st.accept(ev)
	}
}
