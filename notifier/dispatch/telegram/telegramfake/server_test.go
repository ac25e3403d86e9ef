package telegramfake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
)

const token telegram.Token = "123456:AAFakeTokenForTestsOnly_abcdefghijk"

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

// call posts params as JSON straight to the fake, without the client, so that
// the fake's own checks are what is tested.
func call(t *testing.T, fake *telegramfake.Server, tok telegram.Token, method string, params any) (int, answer) {
	t.Helper()
	body, _ := json.Marshal(params)
	resp, err := http.Post(fake.URL+"/bot"+string(tok)+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", method, err)
	}
	return resp.StatusCode, a
}

func send(text string, extra map[string]any) map[string]any {
	p := map[string]any{"chat_id": telegramfake.DefaultChatID, "text": text, "parse_mode": "HTML"}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func wantError(t *testing.T, status int, a answer, code int, desc string) {
	t.Helper()
	if status != code || a.OK || a.ErrorCode != code || !strings.Contains(a.Description, desc) {
		t.Fatalf("got %d %+v, want %d with %q", status, a, code, desc)
	}
}

func TestFakeRefusesAWrongTokenAndAnUnknownMethod(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	st, a := call(t, fake, "123456:AAOtherTokenOtherTokenOtherToken_x", "getMe", nil)
	wantError(t, st, a, 401, "Unauthorized")
	st, a = call(t, fake, token, "sendSticker", nil)
	wantError(t, st, a, 404, "Not Found")
	st, a = call(t, fake, token, "getMe", nil)
	if st != 200 || !a.OK || !strings.Contains(string(a.Result), `"is_bot":true`) {
		t.Fatalf("getMe = %d %s", st, a.Result)
	}
}

func TestFakeParsesHTMLAsTelegramDoes(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	for _, tc := range []struct {
		text  string
		plain string // "" means refused
		err   string
	}{
		{"<b>bold</b> and <i>it</i>", "bold and it", ""},
		{"a &lt;b&gt; &amp; &quot;q&quot; &#65;&#x42;", `a <b> & "q" AB`, ""},
		{"AT&T &nbsp; stays", "AT&T &nbsp; stays", ""},
		{`<a href="https://example.com/?a=1&amp;b=2">link</a>`, "link", ""},
		{`<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>`, "st", ""},
		{"<b><i>x</i></b>", "x", ""},
		{"<B>x</b>", "x", ""},
		{"<b>x</>", "x", ""},
		{"<script>alert(1)</script>", "", `Unsupported start tag "script" at byte offset 0`},
		{"1 < 2", "", `Unsupported start tag "" at byte offset 2`},
		{"<b>open", "", `Can't find end tag corresponding to start tag "b"`},
		{"<b><i>x</b></i>", "", `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"x</b>", "", "Unexpected end tag at byte offset 1"},
		{"<b", "", "Unclosed start tag at byte offset 0"},
		{`<a href="x>y</a>`, "", "Unclosed end of an attribute value"},
		{`<span>x</span>`, "", `Tag "span" must have class "tg-spoiler"`},
		{"<b>   </b>", "", "message text is empty"},
	} {
		st, a := call(t, fake, token, "sendMessage", send(tc.text, nil))
		if tc.plain == "" {
			wantError(t, st, a, 400, tc.err)
			continue
		}
		if !a.OK {
			t.Errorf("%q refused: %s", tc.text, a.Description)
			continue
		}
		var m telegram.Message
		_ = json.Unmarshal(a.Result, &m)
		if m.Text != tc.plain {
			t.Errorf("%q shows %q, want %q", tc.text, m.Text, tc.plain)
		}
	}
}

func TestFakeEnforcesTelegramsLimits(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token, Chats: []int64{telegramfake.DefaultChatID}})
	st, a := call(t, fake, token, "sendMessage", send(strings.Repeat("x", 4097), nil))
	wantError(t, st, a, 400, "message is too long")
	// 2048 emoji are 4096 UTF-16 units: just fits; one more does not.
	if _, a = call(t, fake, token, "sendMessage", send(strings.Repeat("😀", 2048), nil)); !a.OK {
		t.Fatalf("4096 UTF-16 units refused: %s", a.Description)
	}
	st, a = call(t, fake, token, "sendMessage", send(strings.Repeat("😀", 2049), nil))
	wantError(t, st, a, 400, "message is too long")

	st, a = call(t, fake, token, "sendMessage", map[string]any{"chat_id": 999, "text": "hi"})
	wantError(t, st, a, 400, "chat not found")
	st, a = call(t, fake, token, "sendMessage", map[string]any{"text": "hi"})
	wantError(t, st, a, 400, "chat_id is empty")

	kb := func(b map[string]any) map[string]any {
		return map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{{b}}}}
	}
	st, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "x", "callback_data": strings.Repeat("d", 65)})))
	wantError(t, st, a, 400, "BUTTON_DATA_INVALID")
	if _, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "x", "callback_data": strings.Repeat("d", 64)}))); !a.OK {
		t.Fatalf("64-byte callback data refused: %s", a.Description)
	}
	st, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "Open", "url": "http://localhost:8080/f/1"})))
	wantError(t, st, a, 400, "Wrong HTTP URL")
	st, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "Open", "url": "javascript:alert(1)"})))
	wantError(t, st, a, 400, "Unsupported URL protocol")
	st, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "", "callback_data": "x"})))
	wantError(t, st, a, 400, "Text buttons are unallowed")
	st, a = call(t, fake, token, "sendMessage", send("q", kb(map[string]any{"text": "just text"})))
	wantError(t, st, a, 400, "Text buttons are unallowed")
}

func TestFakeEditsLikeTelegram(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	markup := map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "A", "callback_data": "c:s:0"}}}}
	_, a := call(t, fake, token, "sendMessage", send("<b>Q</b>", map[string]any{"reply_markup": markup}))
	var m telegram.Message
	_ = json.Unmarshal(a.Result, &m)

	edit := map[string]any{"chat_id": telegramfake.DefaultChatID, "message_id": m.MessageID, "text": "<b>Q</b>", "parse_mode": "HTML", "reply_markup": markup}
	st, a := call(t, fake, token, "editMessageText", edit)
	wantError(t, st, a, 400, "message is not modified")

	delete(edit, "reply_markup") // leaving the keyboard out removes it
	if _, a = call(t, fake, token, "editMessageText", edit); !a.OK {
		t.Fatalf("edit refused: %s", a.Description)
	}
	got, _ := fake.Message(telegramfake.DefaultChatID, m.MessageID)
	if got.Keyboard != nil || got.Edits != 1 || got.Plain != "Q" {
		t.Fatalf("after edit: %+v", got)
	}
	edit["message_id"] = 99
	st, a = call(t, fake, token, "editMessageText", edit)
	wantError(t, st, a, 400, "message to edit not found")
}

func TestFakeAnswersACallbackOnce(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	markup := map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "A", "callback_data": "c:s:0"}}}}
	_, a := call(t, fake, token, "sendMessage", send("Q", map[string]any{"reply_markup": markup}))
	var m telegram.Message
	_ = json.Unmarshal(a.Result, &m)
	if _, err := fake.Press(telegramfake.DefaultChatID, m.MessageID, "c:s:1"); err == nil {
		t.Fatal("pressed a button that is not on the message")
	}
	id, err := fake.Press(telegramfake.DefaultChatID, m.MessageID, "c:s:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, a = call(t, fake, token, "answerCallbackQuery", map[string]any{"callback_query_id": id, "text": "Sent"}); !a.OK {
		t.Fatalf("answer refused: %s", a.Description)
	}
	st, a := call(t, fake, token, "answerCallbackQuery", map[string]any{"callback_query_id": id})
	wantError(t, st, a, 400, "query is too old")
	if ans, _ := fake.CallbackAnswer(id); !ans.Answered || ans.Text != "Sent" {
		t.Fatalf("answer = %+v", ans)
	}
}

func TestFakeTakesFormEncodedParameters(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	form := url.Values{
		"chat_id":      {"4242"},
		"text":         {"<i>hi</i>"},
		"parse_mode":   {"HTML"},
		"reply_markup": {`{"inline_keyboard":[[{"text":"A","callback_data":"c:s:0"}]]}`},
	}
	resp, err := http.PostForm(fake.URL+"/bot"+string(token)+"/sendMessage", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	msgs := fake.Messages(telegramfake.DefaultChatID)
	if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Plain != "hi" || msgs[0].Keyboard == nil {
		t.Fatalf("form sendMessage: %d %+v", resp.StatusCode, msgs)
	}
}

func TestFakeRefusesWebhooksTelegramRefuses(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	for _, tc := range []struct{ url, err string }{
		{"http://example.com/hook", "An HTTPS URL must be provided"},
		{"https://example.com:9000/hook", "only on ports 80, 88, 443 or 8443"},
		{"https://127.0.0.1/hook", "reserved"},
		{"https://10.1.2.3/hook", "reserved"},
	} {
		st, a := call(t, fake, token, "setWebhook", map[string]any{"url": tc.url})
		wantError(t, st, a, 400, tc.err)
	}
	st, a := call(t, fake, token, "setWebhook", map[string]any{"url": "https://example.com/hook", "secret_token": "no spaces allowed"})
	wantError(t, st, a, 400, "secret token contains unallowed characters")
	if _, a = call(t, fake, token, "setWebhook", map[string]any{"url": "https://example.com/hook", "secret_token": "ok_secret-1"}); !a.OK {
		t.Fatalf("valid webhook refused: %s", a.Description)
	}
	st, a = call(t, fake, token, "getUpdates", map[string]any{})
	wantError(t, st, a, 409, "can't use getUpdates method while webhook is active")
}
