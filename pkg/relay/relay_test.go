package relay_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/relay"
)

func TestSendReachesTheHolderOnAnotherConnection(t *testing.T) {
	ns := natstest.Start(t)
	other, _ := ns.Connect(t)
	holder := relay.NewNATS(ns.NC, "test.relay", slog.Default())
	sender := relay.NewNATS(other, "test.relay", slog.Default())

	stop, err := holder.Handle("stream-1", func(_ context.Context, req []byte) []byte {
		return append([]byte("got:"), req...)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := sender.Send(ctx, "stream-1", []byte("hello"))
	if err != nil || string(got) != "got:hello" {
		t.Fatalf("send: %q %v", got, err)
	}
	stop()
	if _, err := sender.Send(ctx, "stream-1", []byte("again")); !errors.Is(err, relay.ErrNoHolder) {
		t.Fatalf("after stop: %v, want ErrNoHolder", err)
	}
	if _, err := sender.Send(ctx, "no.such>key", nil); !errors.Is(err, relay.ErrNoHolder) {
		t.Fatalf("unsafe key: %v", err)
	}
	if _, err := holder.Handle("a.b", nil); err == nil {
		t.Fatal("a key with a dot must be refused")
	}
}
