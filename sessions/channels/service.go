package channels

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// Service applies the rules of channel settings over a Store. It is safe for
// concurrent use and holds nothing another replica needs.
type Service struct {
	store    Store
	defaults Defaults
	check    URLChecker
	now      func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns a Service over store. defaults apply to principals
// without a setting of their own (see Defaults); check judges every URL a
// principal saves (nil accepts any well-formed URL, for tests and for
// deployments that allow private addresses).
func NewService(store Store, defaults Defaults, check URLChecker, opts ...Option) *Service {
	s := &Service{store: store, defaults: defaults, check: check, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Defaults returns the operator's defaults.
func (s *Service) Defaults() Defaults { return s.defaults }

// casAttempts bounds the read-modify-write loop of one change. Between
// attempts a writer that lost backs off for a random time that doubles
// each round (up to casMaxBackoff), so that writers of one key (the
// dispatchers' workers recording a busy principal's outcomes) stop
// colliding instead of retrying in step: about 0.8 s of backoff in all at
// the most.
const (
	casAttempts   = 16
	casMaxBackoff = 64 * time.Millisecond
)

// backOff waits before attempt (from 1) of a compare-and-swap that lost,
// or returns ctx's error.
func backOff(ctx context.Context, attempt int) error {
	limit := min(time.Millisecond<<attempt, casMaxBackoff) // attempt < casAttempts: no overflow
	t := time.NewTimer(rand.N(limit) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Settings returns the owner's stored settings, secrets included, or empty
// settings (Revision 0) when it has none.
func (s *Service) Settings(ctx context.Context, owner string) (*Settings, error) {
	st, err := s.store.Get(ctx, owner)
	if errors.Is(err, sessions.ErrNotFound) {
		return &Settings{Owner: owner}, nil
	}
	if err != nil {
		return nil, sessions.Unavailable("read channel settings", err)
	}
	return st, nil
}

// View returns what the owner may see of its settings.
func (s *Service) View(ctx context.Context, owner string) (*View, error) {
	st, err := s.Settings(ctx, owner)
	if err != nil {
		return nil, err
	}
	return s.view(st), nil
}

// Update replaces the owner's settings with u (see Update for what is kept)
// and returns the new view. Invalid input is INVALID_REQUEST naming the
// field, e.g. "webhooks[0].url".
func (s *Service) Update(ctx context.Context, owner string, u *Update) (*View, error) {
	next, err := s.change(ctx, owner, func(prev *Settings) (*Settings, error) {
		return apply(ctx, prev, u, s.check)
	})
	if err != nil {
		return nil, err
	}
	return s.view(next), nil
}

// AddPushSubscription stores a browser's subscription; the same endpoint
// subscribing again replaces its keys. Beyond MaxPushSubscriptions the
// oldest is dropped.
func (s *Service) AddPushSubscription(ctx context.Context, owner string, in *PushSubscriptionInput) (*PushView, error) {
	sub, err := pushSubscription(ctx, in, s.check)
	if err != nil {
		return nil, err
	}
	sub.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	_, err = s.change(ctx, owner, func(prev *Settings) (*Settings, error) {
		next := *prev
		next.WebPush = slices.DeleteFunc(slices.Clone(prev.WebPush), func(p PushSubscription) bool { return p.ID == sub.ID })
		next.WebPush = append(next.WebPush, *sub)
		if over := len(next.WebPush) - MaxPushSubscriptions; over > 0 {
			next.WebPush = next.WebPush[over:]
		}
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	v := pushView(*sub)
	return &v, nil
}

// RemovePushSubscription removes the owner's subscription id; removing one
// that is not there succeeds.
func (s *Service) RemovePushSubscription(ctx context.Context, owner, id string) error {
	_, err := s.removePush(ctx, owner, id)
	return err
}

// RemovePushEndpoint removes the owner's subscription of a browser, named
// by its endpoint (what a browser that unsubscribes knows), and reports
// whether there was one.
func (s *Service) RemovePushEndpoint(ctx context.Context, owner, endpoint string) (bool, error) {
	if endpoint == "" {
		return false, sessions.Invalid("endpoint", "is required")
	}
	return s.removePush(ctx, owner, PushSubscriptionID(endpoint))
}

func (s *Service) removePush(ctx context.Context, owner, id string) (removed bool, err error) {
	_, err = s.change(ctx, owner, func(prev *Settings) (*Settings, error) {
		removed = slices.ContainsFunc(prev.WebPush, func(p PushSubscription) bool { return p.ID == id })
		if !removed {
			return nil, nil
		}
		next := *prev
		next.WebPush = slices.DeleteFunc(slices.Clone(prev.WebPush), func(p PushSubscription) bool { return p.ID == id })
		return &next, nil
	})
	return removed && err == nil, err
}

// change applies edit to the owner's settings with compare-and-swap,
// reading again when another writer got there first. edit returning nil
// settings means nothing to change.
func (s *Service) change(ctx context.Context, owner string, edit func(*Settings) (*Settings, error)) (*Settings, error) {
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backOff(ctx, attempt); err != nil {
				return nil, sessions.Unavailable("write channel settings", err)
			}
		}
		prev, err := s.Settings(ctx, owner)
		if err != nil {
			return nil, err
		}
		next, err := edit(prev)
		if err != nil || next == nil {
			return prev, err
		}
		next.Owner, next.Revision = owner, prev.Revision
		next.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		rev, err := s.store.Put(ctx, next)
		if err == nil {
			next.Revision = rev
			return next, nil
		}
		if !errors.Is(err, sessions.ErrConflict) {
			return nil, sessions.Unavailable("write channel settings", err)
		}
	}
	return nil, sessions.Unavailable("write channel settings", fmt.Errorf("still conflicting after %d attempts", casAttempts))
}

// Destinations resolves where the owner's notifications go: its own
// channels, and the operator's default for each channel it has not set up
// and not turned off.
func (s *Service) Destinations(ctx context.Context, owner string) ([]Destination, error) {
	st, err := s.Settings(ctx, owner)
	if err != nil {
		return nil, err
	}
	return s.destinations(st), nil
}

func (s *Service) destinations(st *Settings) []Destination {
	var out []Destination
	d := s.defaults
	if !st.disabled(KindWebhook) {
		for i := range st.Webhooks {
			out = append(out, Destination{Kind: KindWebhook, ID: st.Webhooks[i].ID, Webhook: &st.Webhooks[i]})
		}
		if len(st.Webhooks) == 0 && d.Webhook != nil {
			out = append(out, Destination{Kind: KindWebhook, ID: DefaultID, Default: true, Webhook: d.Webhook})
		}
	}
	if !st.disabled(KindTelegram) {
		if st.Telegram != nil {
			out = append(out, Destination{Kind: KindTelegram, ID: OwnID, Telegram: st.Telegram})
		} else if d.Telegram != nil {
			out = append(out, Destination{Kind: KindTelegram, ID: DefaultID, Default: true, Telegram: d.Telegram})
		}
	}
	if !st.disabled(KindSlack) {
		if st.Slack != nil {
			out = append(out, Destination{Kind: KindSlack, ID: OwnID, Slack: st.Slack})
		} else if d.Slack != nil {
			out = append(out, Destination{Kind: KindSlack, ID: DefaultID, Default: true, Slack: d.Slack})
		}
	}
	if !st.disabled(KindNtfy) {
		if st.Ntfy != nil {
			out = append(out, Destination{Kind: KindNtfy, ID: OwnID, Ntfy: st.Ntfy})
		} else if d.Ntfy != nil {
			out = append(out, Destination{Kind: KindNtfy, ID: DefaultID, Default: true, Ntfy: d.Ntfy})
		}
	}
	if !st.disabled(KindWebPush) {
		for i := range st.WebPush {
			out = append(out, Destination{Kind: KindWebPush, ID: st.WebPush[i].ID, Push: &st.WebPush[i]})
		}
	}
	return out
}

// Destination returns the owner's destination of kind and id as it is now,
// or nil if it no longer exists (removed, turned off, or replaced by a
// setting of the owner's own).
func (s *Service) Destination(ctx context.Context, owner string, kind Kind, id string) (*Destination, error) {
	ds, err := s.Destinations(ctx, owner)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Kind == kind && d.ID == id {
			return &d, nil
		}
	}
	return nil, nil
}

// RecordOutcome adds o to the owner's recent outcomes of kind, replacing an
// earlier outcome of the same delivery, and keeps the newest
// RecentOutcomes.
func (s *Service) RecordOutcome(ctx context.Context, owner string, kind Kind, o Outcome) error {
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backOff(ctx, attempt); err != nil {
				return fmt.Errorf("write delivery outcomes: %w", err)
			}
		}
		items, rev, err := s.store.Outcomes(ctx, owner, kind)
		if err != nil {
			return fmt.Errorf("read delivery outcomes: %w", err)
		}
		items = slices.DeleteFunc(items, func(p Outcome) bool { return p.ID == o.ID })
		items = append([]Outcome{o}, items...)
		if len(items) > RecentOutcomes {
			items = items[:RecentOutcomes]
		}
		_, err = s.store.PutOutcomes(ctx, owner, kind, items, rev, OutcomeTTL)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sessions.ErrConflict) {
			return fmt.Errorf("write delivery outcomes: %w", err)
		}
	}
	return fmt.Errorf("write delivery outcomes: still conflicting after %d attempts", casAttempts)
}

// Recent returns the owner's recent outcomes per channel, newest first;
// channels without any are left out.
func (s *Service) Recent(ctx context.Context, owner string) (map[Kind][]Outcome, error) {
	out := map[Kind][]Outcome{}
	for _, k := range Kinds {
		items, _, err := s.store.Outcomes(ctx, owner, k)
		if err != nil {
			return nil, sessions.Unavailable("read delivery outcomes", err)
		}
		if len(items) > 0 {
			out[k] = items
		}
	}
	return out, nil
}
