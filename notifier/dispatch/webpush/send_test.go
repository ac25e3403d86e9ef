package webpush_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush/pushfake"
)

const subject = "mailto:ops@example.com"

func setup(t testing.TB) (*pushfake.Server, *webpush.VAPIDKeys, *webpush.Sender) {
	t.Helper()
	fake := pushfake.Start(t, pushfake.Config{})
	keys, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	sender, err := webpush.NewSender(webpush.Config{Keys: keys, Subject: subject, HTTPClient: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return fake, keys, sender
}

func subscribe(t testing.TB, fake *pushfake.Server, keys *webpush.VAPIDKeys) webpush.Subscription {
	t.Helper()
	sub, err := fake.Subscribe(keys.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func TestSendRoundTripsThroughThePushServiceAndTheBrowsersDecryption(t *testing.T) {
	fake, keys, sender := setup(t)
	sub := subscribe(t, fake, keys)
	now := time.Now()
	msg := webpush.QuestionMessage(webpush.Question{
		SessionID: "0b8e4c1a-7f3d-4e2b-9a6c-5d1e2f3a4b5c",
		Title:     "Deploy?",
		Message:   "Ship it to production?\nThe build is green.",
		URL:       "https://feedback.example.com/feedback/0b8e4c1a-7f3d-4e2b-9a6c-5d1e2f3a4b5c",
		ExpiresAt: now.Add(10*time.Minute + 30*time.Second),
	}, now)
	payload, err := msg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	opts, ok := msg.Options(now)
	if !ok {
		t.Fatal("a live question has no options")
	}
	res, err := sender.Send(context.Background(), sub, payload, opts)
	if err != nil || res.Outcome != webpush.Delivered || res.StatusCode != http.StatusCreated {
		t.Fatalf("send: %+v, %v", res, err)
	}
	got := fake.Messages(sub.Endpoint)
	if len(got) != 1 {
		t.Fatalf("%d messages at the fake, rejections %+v", len(got), fake.Rejections())
	}
	m := got[0]
	if !bytes.Equal(m.Payload, payload) {
		t.Fatalf("decrypted %q, sent %q", m.Payload, payload)
	}
	if m.TTL != 630 || m.Urgency != "high" || m.Topic != webpush.Topic(msg.SessionID) || m.Subject != subject {
		t.Fatalf("headers: %+v", m)
	}
	back, err := webpush.DecodeMessage(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if back.Body != "Ship it to production?\n⏳ 11 min left" || back.Title != "Deploy?" || back.Tag != "feedbackd-"+msg.SessionID || back.URL != msg.URL {
		t.Fatalf("the service worker would read %+v", back)
	}

	closeMsg := webpush.CloseMessage(msg.SessionID, "completed")
	payload, err = closeMsg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ = closeMsg.Options(now)
	if res, err := sender.Send(context.Background(), sub, payload, opts); res.Outcome != webpush.Delivered {
		t.Fatalf("close: %+v %v", res, err)
	}
	if got := fake.Messages(sub.Endpoint); len(got) != 2 || got[1].Topic != got[0].Topic || got[1].Urgency != "normal" || got[1].TTL != 86400 {
		t.Fatalf("close push: %+v", got)
	}
}

func TestAnHTTPSSubjectIsSentAsIs(t *testing.T) {
	fake, keys, _ := setup(t)
	sender, err := webpush.NewSender(webpush.Config{Keys: keys, Subject: "https://feedback.example.com/contact", HTTPClient: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, fake, keys)
	if res, err := sender.Send(context.Background(), sub, []byte(`{}`), webpush.Options{}); res.Outcome != webpush.Delivered {
		t.Fatalf("%+v %v", res, err)
	}
	if s := fake.Messages(sub.Endpoint)[0].Subject; s != "https://feedback.example.com/contact" {
		t.Fatalf("sub claim %q", s)
	}
}

func TestStatusesBecomeOutcomes(t *testing.T) {
	fake, keys, sender := setup(t)
	for _, tc := range []struct {
		status     int
		retryAfter time.Duration
		want       webpush.Outcome
	}{
		{http.StatusGone, 0, webpush.Gone},
		{http.StatusNotFound, 0, webpush.Gone},
		{http.StatusInternalServerError, 0, webpush.Transient},
		{http.StatusServiceUnavailable, 0, webpush.Transient},
		{http.StatusTooManyRequests, 30 * time.Second, webpush.Transient},
		{http.StatusRequestEntityTooLarge, 0, webpush.Rejected},
		{http.StatusBadRequest, 0, webpush.Rejected},
	} {
		sub := subscribe(t, fake, keys)
		fake.FailWith(sub.Endpoint, tc.status, tc.retryAfter)
		res, err := sender.Send(context.Background(), sub, []byte(`{"x":1}`), webpush.Options{TTL: time.Minute})
		if res.Outcome != tc.want || res.StatusCode != tc.status || res.RetryAfter != tc.retryAfter || err == nil {
			t.Errorf("%d: %+v, %v; want %v", tc.status, res, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "/push/") {
			t.Errorf("error names the endpoint's path: %v", err)
		}
	}
	// A subscription the browser dropped is gone.
	sub := subscribe(t, fake, keys)
	fake.Unsubscribe(sub.Endpoint)
	if res, _ := sender.Send(context.Background(), sub, []byte(`{}`), webpush.Options{}); res.Outcome != webpush.Gone || res.StatusCode != 410 {
		t.Fatalf("unsubscribed: %+v", res)
	}
}

func TestAPushSignedWithAnotherKeyIsForbidden(t *testing.T) {
	fake, keys, _ := setup(t)
	sub := subscribe(t, fake, keys)
	other, _ := webpush.GenerateVAPIDKeys()
	sender, _ := webpush.NewSender(webpush.Config{Keys: other, Subject: subject, HTTPClient: fake.Client()})
	res, err := sender.Send(context.Background(), sub, []byte(`{}`), webpush.Options{})
	if res.Outcome != webpush.Rejected || res.StatusCode != http.StatusForbidden || err == nil {
		t.Fatalf("wrong key: %+v %v", res, err)
	}
	if len(fake.Messages("")) != 0 {
		t.Fatal("a push signed with another key was accepted")
	}
}

func TestAnUnreachablePushServiceIsTransientAndKeepsTheEndpointOutOfTheError(t *testing.T) {
	_, keys, _ := setup(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	sender, _ := webpush.NewSender(webpush.Config{Keys: keys, Subject: subject})
	sub := webpush.Subscription{Endpoint: "https://" + addr + "/push/secret-subscription-id"}
	fakeKeys, _ := pushfake.New(pushfake.Config{})
	defer fakeKeys.Close()
	browser, _ := fakeKeys.Subscribe("")
	sub.P256dh, sub.Auth = browser.P256dh, browser.Auth
	res, err := sender.Send(context.Background(), sub, []byte(`{}`), webpush.Options{})
	if res.Outcome != webpush.Transient || err == nil || strings.Contains(err.Error(), "secret-subscription-id") {
		t.Fatalf("unreachable: %+v %v", res, err)
	}
}

func TestSendRefusesWhatNoPushServiceTakes(t *testing.T) {
	fake, keys, sender := setup(t)
	sub := subscribe(t, fake, keys)
	for name, tc := range map[string]struct {
		sub     webpush.Subscription
		payload []byte
		opts    webpush.Options
	}{
		"payload too large": {sub, make([]byte, webpush.MaxPayload+1), webpush.Options{}},
		"negative TTL":      {sub, nil, webpush.Options{TTL: -time.Second}},
		"bad urgency":       {sub, nil, webpush.Options{Urgency: "asap"}},
		"topic too long":    {sub, nil, webpush.Options{Topic: strings.Repeat("a", 33)}},
		"topic bad chars":   {sub, nil, webpush.Options{Topic: "a b"}},
		"http endpoint":     {webpush.Subscription{Endpoint: "http" + strings.TrimPrefix(sub.Endpoint, "https"), P256dh: sub.P256dh, Auth: sub.Auth}, nil, webpush.Options{}},
	} {
		res, err := sender.Send(context.Background(), tc.sub, tc.payload, tc.opts)
		if res.Outcome != webpush.Rejected || !errors.Is(err, webpush.ErrInvalid) {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
	if n := len(fake.Messages("")) + len(fake.Rejections()); n != 0 {
		t.Fatalf("%d requests reached the push service", n)
	}
}

// vapid builds an Authorization header by hand, to test the fake's checks
// with what webpush-go would never send.
func vapid(t *testing.T, signer *ecdsa.PrivateKey, k *ecdsa.PublicKey, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	var key any = signer
	if method == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := k.Bytes()
	return "vapid t=" + tok + ", k=" + base64.RawURLEncoding.EncodeToString(kb)
}

func TestThePushServiceRefusesBadVAPIDAndHeaders(t *testing.T) {
	fake, _, _ := setup(t)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pk, _ := signer.PublicKey.Bytes()
	sub, err := fake.Subscribe(base64.RawURLEncoding.EncodeToString(pk))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(sub.Endpoint)
	aud := u.Scheme + "://" + u.Host
	good := jwt.MapClaims{"aud": aud, "exp": time.Now().Add(time.Hour).Unix(), "sub": subject}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	valid := vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, good)
	tampered := valid[:strings.Index(valid, ",")-3] + "AAA" + valid[strings.Index(valid, ","):]

	for name, tc := range map[string]struct {
		auth    string
		headers map[string]string
		status  int
	}{
		"no authorization":       {"", nil, 401},
		"legacy WebPush scheme":  {"WebPush " + valid[6:], nil, 401},
		"signed by another key":  {vapid(t, other, &signer.PublicKey, jwt.SigningMethodES256, good), nil, 401},
		"tampered signature":     {tampered, nil, 401},
		"alg none":               {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodNone, good), nil, 401},
		"HS256 with k as secret": {hs256(t, &signer.PublicKey, good), nil, 401},
		"wrong audience":         {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("aud", "https://push.example.com")), nil, 401},
		"no exp":                 {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("exp", nil)), nil, 401},
		"expired":                {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("exp", time.Now().Add(-time.Minute).Unix())), nil, 401},
		"exp over 24 h ahead":    {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("exp", time.Now().Add(25*time.Hour).Unix())), nil, 401},
		"sub not a contact":      {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("sub", "ops@example.com")), nil, 401},
		"no sub":                 {vapid(t, signer, &signer.PublicKey, jwt.SigningMethodES256, with("sub", nil)), nil, 401},
		"another key, well made": {vapid(t, other, &other.PublicKey, jwt.SigningMethodES256, good), nil, 403},
		"no TTL":                 {valid, map[string]string{"TTL": ""}, 400},
		"negative TTL":           {valid, map[string]string{"TTL": "-1"}, 400},
		"bad urgency":            {valid, map[string]string{"Urgency": "now"}, 400},
		"bad topic":              {valid, map[string]string{"Topic": "not/base64url"}, 400},
		"old content encoding":   {valid, map[string]string{"Content-Encoding": "aesgcm"}, 415},
		"body not decryptable":   {valid, nil, 400},
		"body over 4096 bytes":   {valid, map[string]string{"X-Body-Size": "4097"}, 413},
	} {
		size := 64
		if s := tc.headers["X-Body-Size"]; s != "" {
			fmt.Sscan(s, &size)
		}
		req, _ := http.NewRequest(http.MethodPost, sub.Endpoint, bytes.NewReader(make([]byte, size)))
		req.Header.Set("TTL", "60")
		req.Header.Set("Content-Encoding", "aes128gcm")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		for k, v := range tc.headers {
			if k == "X-Body-Size" {
				continue
			}
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := fake.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, tc.status)
		}
	}
	if n := len(fake.Messages("")); n != 0 {
		t.Fatalf("%d bad pushes accepted", n)
	}
}

// hs256 signs with the public key's bytes as an HMAC secret: the classic
// algorithm-confusion attack.
func hs256(t *testing.T, k *ecdsa.PublicKey, claims jwt.MapClaims) string {
	t.Helper()
	kb, _ := k.Bytes()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(kb)
	if err != nil {
		t.Fatal(err)
	}
	return "vapid t=" + tok + ", k=" + base64.RawURLEncoding.EncodeToString(kb)
}

func BenchmarkSend(b *testing.B) {
	fake, keys, sender := setup(b)
	sub := subscribe(b, fake, keys)
	now := time.Now()
	payload, _ := webpush.QuestionMessage(webpush.Question{
		SessionID: "0b8e4c1a-7f3d-4e2b-9a6c-5d1e2f3a4b5c", Title: "Deploy?", Message: "Ship it?",
		URL: "https://feedback.example.com/f/x", ExpiresAt: now.Add(time.Hour),
	}, now).Encode()
	b.ReportAllocs()
	for b.Loop() {
		if res, err := sender.Send(context.Background(), sub, payload, webpush.Options{TTL: time.Hour}); res.Outcome != webpush.Delivered {
			b.Fatal(res, err)
		}
	}
}
