package mcp

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// A session id carries the features its client declared, bound by the same
// tag as the principal: checked on any replica, changed by no one, and ids
// minted before features existed stay valid.
func TestSessionIDsCarryTheClientsFeatures(t *testing.T) {
	alice := boundSessionIDs{principal: "alice", features: featureApps}
	id := alice.Generate()
	if f, ok := (boundSessionIDs{principal: "alice"}).check(id); !ok || f != featureApps {
		t.Fatalf("check(%q) = %v, %v", id, f, ok)
	}
	if _, ok := (boundSessionIDs{principal: "bob"}).check(id); ok {
		t.Error("bob's manager accepts alice's id")
	}
	plain := boundSessionIDs{principal: "alice"}.Generate()
	if strings.Count(plain, "-") != 2 {
		t.Errorf("an id without features is %q, not the old form", plain)
	}
	if f, ok := (boundSessionIDs{principal: "alice"}).check(plain); !ok || f != 0 {
		t.Fatalf("check(%q) = %v, %v", plain, f, ok)
	}
	// Every combination of the features round-trips, in one spelling.
	for f := clientFeatures(1); f <= knownFeatures; f++ {
		id := boundSessionIDs{principal: "alice", features: f}.Generate()
		if got, ok := (boundSessionIDs{principal: "alice"}).check(id); !ok || got != f {
			t.Errorf("features %b: check(%q) = %v, %v", f, id, got, ok)
		}
		if want := "-" + strconv.FormatUint(uint64(f), 16) + "-"; !strings.Contains(id, want) {
			t.Errorf("features %b: id %q does not carry %s", f, id, want)
		}
	}
	parts := strings.Split(id, "-")
	nonce, tag := parts[1], parts[3]
	for _, forged := range []string{
		"fbm-" + nonce + "-" + tag,        // features dropped
		"fbm-" + nonce + "-3-" + tag,      // features added (form elicitation)
		"fbm-" + nonce + "-5-" + tag,      // features added (URL elicitation)
		"fbm-" + nonce + "-01-" + tag,     // another spelling
		"fbm-" + nonce + "-0-" + tag,      // zero spelt out
		"fbm-" + nonce + "-1-1-" + tag,    // extra part
		"fbm-" + nonce + "-80-" + tag,     // unknown feature
		"fbm-" + nonce[:30] + "-1-" + tag, // short nonce
		strings.Replace(id, "fbm-", "fbx-", 1),
	} {
		if _, ok := (boundSessionIDs{principal: "alice"}).check(forged); ok {
			t.Errorf("forged id %q accepted", forged)
		}
	}
}

// FuzzSessionIDCheck: any string is an id of the principal or not, never a
// panic; what Generate makes always checks, with its features.
func FuzzSessionIDCheck(f *testing.F) {
	for _, seed := range []string{"", "fbm-", "fbm--", "fbm-0-0-0", "fbm-" + strings.Repeat("a", 32) + "-ff-" + strings.Repeat("b", 32),
		boundSessionIDs{principal: "p", features: featureApps}.Generate(), boundSessionIDs{principal: "p"}.Generate()} {
		f.Add("p", seed, uint8(1))
	}
	f.Fuzz(func(t *testing.T, principal, id string, features uint8) {
		b := boundSessionIDs{principal: principal}
		if got, ok := b.check(id); ok && got&^knownFeatures != 0 {
			t.Fatalf("check(%q) accepted unknown features %v", id, got)
		}
		want := clientFeatures(features) & knownFeatures
		minted := boundSessionIDs{principal: principal, features: want}.Generate()
		if got, ok := b.check(minted); !ok || got != want {
			t.Fatalf("check(Generate()) = %v, %v; want %v", got, ok, want)
		}
	})
}

// The digest the app sends back equals the one taken at create, however
// JavaScript re-encoded the arguments, and differs for another question.
func TestAppRefSurvivesReencodingAndTellsQuestionsApart(t *testing.T) {
	created := `{"message":"Ship?","timeout":300,"waitSeconds":50,"predefinedOptions":["a","b"],"metadata":{"n":1.50,"big":1e3},` +
		`"images":[{"data":"aGVsbG8=","mimeType":"image/png","name":"x.png"}],"fields":{"type":"object","properties":{"\u00e9":{"type":"integer"}}}}`
	app := `{"fields":{"properties":{"é":{"type":"integer"}},"type":"object"},"images":[{"name":"x.png","mimeType":"image/png","data":8}],` +
		`"metadata":{"big":1000,"n":1.5},"predefinedOptions":["a","b"],"timeout":300.0,"message":"Ship?"}`
	a, err := appRef([]byte(created))
	if err != nil {
		t.Fatal(err)
	}
	b, err := appRef([]byte(app))
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.HasPrefix(a, appRefPrefix) {
		t.Fatalf("appRef differs: %s vs %s", a, b)
	}
	for _, other := range []string{
		strings.Replace(app, `"Ship?"`, `"Ship!"`, 1),
		strings.Replace(app, `["a","b"]`, `["b","a"]`, 1),
		strings.Replace(app, `"data":8`, `"data":9`, 1),
		strings.Replace(app, `"n":1.5`, `"n":"1.5"`, 1),
	} {
		if c, err := appRef([]byte(other)); err != nil || c == a {
			t.Errorf("appRef(%s) = %s, %v: the same as another question's", other, c, err)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{}{}`, `{"a":`} {
		if _, err := appRef([]byte(bad)); err == nil {
			t.Errorf("appRef(%q) accepted", bad)
		}
	}
	if len(a) > 128 {
		t.Errorf("appRef is %d bytes, more than sessions.MaxCallRef", len(a))
	}
}

// FuzzAppRef: any arguments digest or are refused, never panic, and a
// digest does not depend on how the object was spelt.
func FuzzAppRef(f *testing.F) {
	for _, seed := range []string{`{"message":"x"}`, `{"images":[{"data":"AAAA"},{"data":3},7,null]}`, `{"a":[1,2.50,-0,1e400]}`, `{"\ud800":"\u2028"}`, `[1]`, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ref, err := appRef(raw)
		if err != nil {
			return
		}
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil {
			return // json.Number kept what float64 cannot hold
		}
		again, err := json.Marshal(v)
		if err != nil {
			return
		}
		if ref2, err := appRef(again); err != nil || ref2 != ref {
			t.Fatalf("re-encoded %s: %s, %v; want %s", again, ref2, err, ref)
		}
	})
}
