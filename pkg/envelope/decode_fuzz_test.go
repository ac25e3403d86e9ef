package envelope_test

import (
	"errors"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// FuzzDecodeCreate feeds arbitrary bodies through decoding and validation:
// whatever arrives, the answer is a valid request or INVALID_REQUEST, never a
// panic or another error.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"message":"q"}`,
		`{"message":"问题🙂","predefinedOptions":["a","b"],"timeout":30,"metadata":{"k":"v"}}`,
		`{"message":"q","timeout":1e400}`,
		`{"message":"q"} trailing`,
		`{"message":"<script>alert(1)</script>","predefinedOptions":["a","a"]}`,
		"{\"message\":\"\xff\"}",
		`[]`, `null`, ``, `{"timeout":"30"}`, `{"metadata":[]}`,
	} {
		f.Add([]byte(seed))
	}
	limits := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req sessions.CreateRequest
		err := envelope.Decode(body, &req)
		if err == nil {
			_, err = limits.ValidateCreate(&req)
		}
		if err != nil {
			var e *sessions.Error
			if !errors.As(err, &e) || e.Code != sessions.CodeInvalidRequest || e.Field == "" {
				t.Fatalf("body %q: error %v is not INVALID_REQUEST with a field", body, err)
			}
		}
	})
}

// FuzzDecodeSubmit does the same for answers against a session with options.
func FuzzDecodeSubmit(f *testing.F) {
	for _, seed := range []string{
		`{"selectedOptions":["yes"]}`, `{"freeText":"hi"}`, `{"selectedOptions":["nope"],"freeText":""}`,
		`{"selectedOptions":"yes"}`, `{}`, `{"freeText":null}`,
	} {
		f.Add([]byte(seed))
	}
	limits := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	sess := &sessions.Session{PredefinedOptions: []string{"yes", "no"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req sessions.SubmitRequest
		err := envelope.Decode(body, &req)
		if err == nil {
			err = limits.ValidateSubmit(&req, sess)
			if err == nil {
				for _, o := range req.SelectedOptions {
					if o != "yes" && o != "no" {
						t.Fatalf("accepted unknown option %q", o)
					}
				}
			}
		}
		if err != nil && sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
			t.Fatalf("body %q: %v", body, err)
		}
	})
}
