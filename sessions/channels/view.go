package channels

import "time"

// View is what a principal may see of its settings (GET /api/channels):
// everything but the secrets, for which it says only whether they are set.
type View struct {
	Webhooks []WebhookView `json:"webhooks"`
	Telegram *Telegram     `json:"telegram"`
	Slack    *SlackView    `json:"slack"`
	Ntfy     *NtfyView     `json:"ntfy"`
	WebPush  []PushView    `json:"webPush"`
	Disabled []Kind        `json:"disabled"`
	// Sources says, per channel, where its destination comes from: "own"
	// (the principal's setting), "default" (the operator's), "off" (turned
	// off by the principal) or "none".
	Sources   map[Kind]Source `json:"sources"`
	UpdatedAt *time.Time      `json:"updatedAt"`
}

// Source is where a channel's destination comes from.
type Source string

// The sources of a channel's destination.
const (
	SourceOwn     Source = "own"
	SourceDefault Source = "default"
	SourceOff     Source = "off"
	SourceNone    Source = "none"
)

// WebhookView is a webhook without its secret.
type WebhookView struct {
	ID            string  `json:"id"`
	URL           string  `json:"url"`
	HasSecret     bool    `json:"hasSecret"`
	Events        []Event `json:"events"`
	IncludeAnswer bool    `json:"includeAnswer"`
}

// SlackView says that a Slack webhook is set, and where it posts, without
// the URL (a credential).
type SlackView struct {
	HasWebhookURL bool   `json:"hasWebhookUrl"`
	Host          string `json:"host"`
}

// NtfyView is the topic URL without the token.
type NtfyView struct {
	URL      string `json:"url"`
	HasToken bool   `json:"hasToken"`
}

// PushView is a subscription without its keys.
type PushView struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	CreatedAt time.Time `json:"createdAt"`
}

func pushView(p PushSubscription) PushView {
	return PushView{ID: p.ID, Host: hostOf(p.Endpoint), CreatedAt: p.CreatedAt}
}

func (s *Service) view(st *Settings) *View {
	v := &View{
		Webhooks: []WebhookView{},
		WebPush:  []PushView{},
		Disabled: append([]Kind{}, st.Disabled...),
		Sources:  map[Kind]Source{},
	}
	for _, w := range st.Webhooks {
		events := w.Events
		if len(events) == 0 {
			events = Events
		}
		v.Webhooks = append(v.Webhooks, WebhookView{ID: w.ID, URL: w.URL, HasSecret: w.Secret != "",
			Events: append([]Event{}, events...), IncludeAnswer: w.IncludeAnswer})
	}
	if st.Telegram != nil {
		v.Telegram = &Telegram{ChatID: st.Telegram.ChatID}
	}
	if st.Slack != nil {
		v.Slack = &SlackView{HasWebhookURL: st.Slack.WebhookURL != "", Host: hostOf(st.Slack.WebhookURL)}
	}
	if st.Ntfy != nil {
		v.Ntfy = &NtfyView{URL: st.Ntfy.URL, HasToken: st.Ntfy.Token != ""}
	}
	for _, p := range st.WebPush {
		v.WebPush = append(v.WebPush, pushView(p))
	}
	if st.Revision != 0 {
		t := st.UpdatedAt
		v.UpdatedAt = &t
	}
	d := s.defaults
	own := map[Kind]bool{
		KindWebhook: len(st.Webhooks) > 0, KindTelegram: st.Telegram != nil, KindSlack: st.Slack != nil,
		KindNtfy: st.Ntfy != nil, KindWebPush: len(st.WebPush) > 0,
	}
	def := map[Kind]bool{KindWebhook: d.Webhook != nil, KindTelegram: d.Telegram != nil, KindSlack: d.Slack != nil, KindNtfy: d.Ntfy != nil}
	for _, k := range Kinds {
		switch {
		case st.disabled(k):
			v.Sources[k] = SourceOff
		case own[k]:
			v.Sources[k] = SourceOwn
		case def[k]:
			v.Sources[k] = SourceDefault
		default:
			v.Sources[k] = SourceNone
		}
	}
	return v
}
