package pushfake

import (
	"crypto/ecdh"
	"encoding/base64"
	"testing"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The example of RFC 8291 Appendix A, decrypted by the fake: an independent
// check that the fake reads what the RFC says a browser reads, so a round
// trip through it cannot pass on an encryption bug it shares.
func TestDecryptReadsTheRFC8291Example(t *testing.T) {
	ua, err := ecdh.P256().NewPrivateKey(b64(t, "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()); got != "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4" {
		t.Fatalf("user agent public key %s", got)
	}
	auth := b64(t, "BTBZMqHH6r4Tts7J_aSIgg")
	body := b64(t, "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
	plain, err := decrypt(body, ua, auth)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != "When I grow up, I want to be a watermelon" {
		t.Fatalf("plaintext %q", plain)
	}

	// Any changed byte — salt, key, ciphertext, tag — fails, as does the
	// wrong auth secret.
	for _, i := range []int{0, 20, 30, len(body) - 1} {
		bad := append([]byte(nil), body...)
		bad[i] ^= 1
		if _, err := decrypt(bad, ua, auth); err == nil {
			t.Errorf("byte %d flipped: decrypted", i)
		}
	}
	wrongAuth := append([]byte(nil), auth...)
	wrongAuth[0] ^= 1
	if _, err := decrypt(body, ua, wrongAuth); err == nil {
		t.Error("decrypted with the wrong auth secret")
	}
}

func FuzzDecrypt(f *testing.F) {
	ua, _ := ecdh.P256().NewPrivateKey(b64(f, "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	auth := b64(f, "BTBZMqHH6r4Tts7J_aSIgg")
	f.Add(b64(f, "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"))
	f.Add([]byte{})
	f.Add(make([]byte, 21))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decrypt(body, ua, auth) // must not panic
	})
}
