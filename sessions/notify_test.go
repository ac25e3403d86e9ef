package sessions_test

import (
	"encoding/json"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

func TestNotifyDefaultsToTrueForRecordsWrittenBeforeIt(t *testing.T) {
	var old sessions.Session
	if err := json.Unmarshal([]byte(`{"sessionId":"x","status":"pending"}`), &old); err != nil {
		t.Fatal(err)
	}
	if !old.Notifies() {
		t.Fatal("a record without notify must notify")
	}
	off := false
	quiet := &sessions.Session{Notify: &off}
	c := quiet.Clone()
	*c.Notify = true
	if quiet.Notifies() {
		t.Fatal("Clone shares the notify flag")
	}
	data, _ := json.Marshal(&sessions.Session{})
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if _, ok := m["notify"]; ok {
		t.Fatalf("the default is stored: %s", data)
	}
}
