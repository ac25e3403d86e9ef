package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/feedbackd/feedbackd/pkg/egress"
)

// httpChannels holds the two clients of the HTTP channels: one for
// principals' destinations, which refuses private addresses, and one for
// the operator's defaults, which are trusted.
type httpChannels struct {
	strict, trusted *egress.Client
}

func (h httpChannels) client(n *Notification) *egress.Client {
	if n.Destination.Default {
		return h.trusted
	}
	return h.strict
}

// maxRetryAfter bounds a destination's Retry-After; the retry period ends
// the job anyway.
const maxRetryAfter = 24 * time.Hour

// post sends body to target and reads what a delivery needs from the
// answer. The error never contains target, which may be a credential (a
// Slack webhook URL).
func (h httpChannels) post(ctx context.Context, n *Notification, target string, header http.Header, body []byte) (Receipt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, PermanentError(0, errors.New("the destination URL is not valid"))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client(n).Do(req)
	if err != nil {
		return Receipt{}, sendError(ctx, err)
	}
	defer resp.Body.Close()
	snippet := readSnippet(resp.Body)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return classify(resp, snippet)
}

// classify maps a destination's answer to the outcome of a delivery:
// 2xx delivered; 408, 429 and 5xx may pass (Retry-After honoured); any
// other status is refused for good.
func classify(resp *http.Response, snippet string) (Receipt, error) {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return Receipt{StatusCode: code}, nil
	}
	msg := http.StatusText(code)
	if snippet != "" {
		msg += ": " + snippet
	}
	err := errors.New(msg)
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return Receipt{}, TransientError(code, retryAfter(resp.Header.Get("Retry-After")), err)
	case code >= 300 && code < 400:
		return Receipt{}, PermanentError(code, errors.New("the destination redirects; redirects are not followed, use the final URL"))
	}
	return Receipt{}, PermanentError(code, err)
}

// retryAfter parses Retry-After: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// sendError describes a request that got no answer, without the URL.
func sendError(ctx context.Context, err error) error {
	if errors.Is(err, egress.ErrRefused) {
		var re *egress.RefusedError
		if errors.As(err, &re) {
			return PermanentError(0, fmt.Errorf("refused: %s", re.Error()))
		}
		return PermanentError(0, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		err = errors.New("timed out")
	case errors.As(err, &dnsErr):
		err = fmt.Errorf("cannot resolve %s", dnsErr.Name)
	}
	return TransientError(0, 0, err)
}

// readSnippet returns the start of an answer, printable, for the outcome
// shown to the owner.
func readSnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(string(b), ""))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
