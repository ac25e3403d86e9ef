package edge_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
)

// Small image limits keep the large-body routes' limit near 107 KiB, so
// these tests move little data: two images of 16 KiB, in base64, plus
// 64 KiB.
const (
	testImageBytes = 16 << 10
	testImageCount = 2
)

var testLargeLimit = edge.LargeBodyLimit(testImageCount, testImageBytes)

func smallImages(budget int64) []programtest.Option {
	return []programtest.Option{
		programtest.Env("IMAGE_MAX_BYTES", fmt.Sprint(testImageBytes)),
		programtest.Env("IMAGE_MAX_COUNT", fmt.Sprint(testImageCount)),
		programtest.Env("UPLOAD_MEMORY", fmt.Sprint(budget)),
	}
}

// rawRequest writes head (the request line and headers, without the blank
// line) and then body, which may be shorter than the Content-Length it
// declares, on a new connection, and reads the answer. The server must
// answer without waiting for the rest of the body.
func rawRequest(t *testing.T, base, head, body string) *reply {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return rawOn(t, conn, head, body)
}

func rawOn(t *testing.T, conn net.Conn, head, body string) *reply {
	t.Helper()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", head, err)
	}
	defer res.Body.Close()
	r := &reply{Status: res.StatusCode, Header: res.Header}
	r.Raw, _ = io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			t.Fatalf("%q: body is not JSON: %s", head, r.Raw)
		}
	}
	return r
}

func postHead(path string, length int, extra ...string) string {
	h := []string{"POST " + path + " HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", length)}
	return strings.Join(append(h, extra...), "\r\n")
}

// padded is body with JSON white space appended up to n bytes.
func padded(body string, n int) string {
	if len(body) >= n {
		return body
	}
	return body + strings.Repeat(" ", n-len(body))
}

// Not parallel: several cases are answered and closed while the client may
// still be sending (see TestOversizedBodyIs413).
func TestBodyLimitsPerRoute(t *testing.T) {
	e, _ := newREST(t, smallImages(4*testLargeLimit)...)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	big := int(edge.BodyLimit) + 30<<10 // over 64 KiB, under the large limit

	// The routes that carry images take a body over 64 KiB.
	r := do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(padded(`{"message":"padded"}`, big)))
	if r.Status != 201 {
		t.Fatalf("create with a %d-byte body: %d %s", big, r.Status, r.Raw)
	}
	r = do(t, "POST", e.URL+"/api/feedback/"+id+"/submit", "", ctJSON, []byte(padded(`{"freeText":"padded"}`, big)))
	if r.Status != 200 {
		t.Fatalf("submit with a %d-byte body: %d %s", big, r.Status, r.Raw)
	}

	// Every other route keeps 64 KiB, refused by Content-Length before the
	// body is read.
	r = rawRequest(t, e.URL, postHead("/api/feedback/"+id+"/cancel", big, "X-API-Key: "+keyA), "")
	if r.Status != 413 || r.code() != "PAYLOAD_TOO_LARGE" || !strings.Contains(r.Body.Error.Message, "64 KiB") {
		t.Errorf("cancel with a %d-byte body: %d %s", big, r.Status, r.Raw)
	}

	// Over the large limit: refused at once, naming the limit, without
	// reading a byte of the body.
	r = rawRequest(t, e.URL, postHead("/api/feedback/"+id+"/submit", 50<<20), "")
	if r.Status != 413 || r.code() != "PAYLOAD_TOO_LARGE" || !strings.Contains(r.Body.Error.Message, edgeSize(testLargeLimit)) {
		t.Errorf("submit declaring 50 MiB: %d %s", r.Status, r.Raw)
	}
	// A chunked body is read up to the limit and refused there.
	chunk := strings.Repeat("x", 32<<10)
	var chunked strings.Builder
	for range 5 {
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	chunked.WriteString("0\r\n\r\n")
	r = rawRequest(t, e.URL, "POST /api/feedback/"+id+"/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", chunked.String())
	if r.Status != 413 || r.code() != "PAYLOAD_TOO_LARGE" {
		t.Errorf("chunked submit of 160 KiB: %d %s", r.Status, r.Raw)
	}

	// Without valid credentials a large body on a credentialed route is
	// never read: 401, as it would have been after reading it.
	for _, c := range []struct{ path, key string }{
		{"/api/feedback/create", ""}, {"/api/feedback/create", "X-API-Key: not-a-key"}, {"/mcp", ""},
	} {
		head := postHead(c.path, big)
		if c.key != "" {
			head += "\r\n" + c.key
		}
		r = rawRequest(t, e.URL, head, "")
		if r.Status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("%s with %q and a %d-byte body: %d %s", c.path, c.key, big, r.Status, r.Raw)
		}
		if c.path == "/mcp" && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("/mcp 401 without a Bearer challenge: %v", r.Header)
		}
	}
}

func edgeSize(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }

// Large bodies borrow their size from one budget per replica; when it is
// spent, another large body is refused at once with 503 and Retry-After,
// unread, and small bodies are not affected. Once the borrower is done, large
// bodies are read again.
func TestLargeBodiesShareOneBudget(t *testing.T) {
	e, _ := newREST(t, smallImages(testLargeLimit)...)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	size := int(testLargeLimit) - 1024

	// A slow client: it declares a large body and sends 10 bytes of it.
	var slow net.Conn
	dialSlow := func() {
		var err error
		if slow, err = net.Dial("tcp", strings.TrimPrefix(e.URL, "http://")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(slow, postHead("/api/feedback/"+id+"/submit", size)+"\r\n\r\n"+`{"freeText"`); err != nil {
			t.Fatal(err)
		}
	}
	dialSlow()
	defer func() { slow.Close() }()

	body := padded(`{"freeText":"x"}`, int(edge.BodyLimit)+1024)
	programtest.WaitFor(t, 10*time.Second, func() error {
		r := rawRequest(t, e.URL, postHead("/api/feedback/"+id+"/submit", len(body)), body)
		if r.Status == 503 {
			if r.code() != "SERVICE_UNAVAILABLE" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without its code or Retry-After: %v %s", r.Header, r.Raw)
			}
			return nil
		}
		// The probe may have held the budget when the slow client's
		// headers arrived, which were then refused: start it again.
		_ = slow.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := slow.Read(make([]byte, 1)); n > 0 || err == io.EOF {
			slow.Close()
			dialSlow()
		}
		return fmt.Errorf("a second large body got %d, want 503 while the first holds the budget", r.Status)
	})
	// Small bodies pass meanwhile.
	// (An answer that got through before the slow client may have completed
	// the session: 409 then, else 400 for the unknown option.)
	if r := e.submit(t, id, map[string]any{"selectedOptions": []string{"nope"}}); r.Status != 400 && r.Status != 409 {
		t.Errorf("a small body while the budget is spent: %d %s", r.Status, r.Raw)
	}

	// The slow client gives up: its loan comes back.
	slow.Close()
	programtest.WaitFor(t, 10*time.Second, func() error {
		r := rawRequest(t, e.URL, postHead("/api/feedback/"+id+"/submit", len(body)), body)
		if r.Status == 503 {
			return fmt.Errorf("large bodies still refused after the borrower left: %s", r.Raw)
		}
		if r.Status != 200 && r.Status != 409 {
			t.Fatalf("large body after the budget came back: %d %s", r.Status, r.Raw)
		}
		return nil
	})
}
