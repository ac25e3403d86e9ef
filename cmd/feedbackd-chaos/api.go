package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api is a REST client that retries what a dying replica interrupted.
type api struct {
	base, key string
	hc        *http.Client
}

func newAPI(base, key string) *api {
	return &api{base: base, key: key, hc: &http.Client{Timeout: 10 * time.Second}}
}

type apiReply struct {
	status int
	code   string
	data   json.RawMessage
}

// do sends one request; err is a transport failure (no HTTP answer).
func (a *api) do(ctx context.Context, method, path string, body any, auth bool) (*apiReply, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("X-API-Key", a.key)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &env)
	r := &apiReply{status: res.StatusCode, data: env.Data}
	if env.Error != nil {
		r.code = env.Error.Code
	}
	return r, nil
}

// retryable reports whether a reply says "this replica could not do it", so
// the same request should be sent again.
func retryable(r *apiReply, err error) bool {
	return err != nil || r.status == http.StatusBadGateway || r.status == http.StatusServiceUnavailable ||
		r.status == http.StatusGatewayTimeout || r.status == http.StatusInternalServerError
}

// call retries a request until it gets a real answer or the deadline passes.
// attempts says how many were sent, so callers can tell a retry's 409 apart.
func (a *api) call(ctx context.Context, method, path string, body any, auth bool, until time.Duration) (r *apiReply, attempts int, err error) {
	deadline := time.Now().Add(until)
	backoff := 100 * time.Millisecond
	for {
		attempts++
		r, err = a.do(ctx, method, path, body, auth)
		if !retryable(r, err) {
			return r, attempts, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("%s %s: still %d after %d attempts", method, path, r.status, attempts)
			}
			return nil, attempts, err
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}
